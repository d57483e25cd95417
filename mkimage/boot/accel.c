/* accel.c: choosing between KVM and TCG for a boot, and saying why. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_private.h"

const struct mk_accel_probe mk_accel_probe_host = {
    .kvm_dev = "/dev/kvm",
    .sys_module = "/sys/module",
    .cpuinfo = "/proc/cpuinfo",
};

const char *mk_accel_name(enum mk_accel accel)
{
    switch (accel) {
    case MK_ACCEL_KVM:
        return "kvm";
    case MK_ACCEL_TCG:
        return "tcg";
    default:
        return "auto";
    }
}

/* 0 when (path) opens read-write, as QEMU needs, else the errno. */
static int kvm_open_error(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* kvm_pvm is a software nested hypervisor that emulates real mode and unpaged protected
 * mode instruction by instruction, which is all SeaBIOS and GRUB run in: a GRUB boot takes
 * over a minute there against half a second under TCG. */
static bool kvm_is_pvm(const struct mk_accel_probe *probe)
{
    char path[512];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/kvm_pvm", probe->sys_module);

    return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0;
}

/* "vmx", "svm", or NULL when the CPU's flags have neither (or cpuinfo is unreadable). */
static const char *cpu_virt_flag(const char *cpuinfo)
{
    FILE *f = fopen(cpuinfo, "re");
    char *line = NULL;
    size_t cap = 0;
    const char *found = NULL;

    if (!f)
        return NULL;
    while (!found && getline(&line, &cap, f) > 0) {
        char *p = line;

        if (strncmp(p, "flags", 5) || !(p = strchr(p, ':')))
            continue;
        p++;
        while (*p && !found) {
            size_t n;

            p += strspn(p, " \t\n");
            n = strcspn(p, " \t\n");
            if (n == 3 && !strncmp(p, "vmx", 3))
                found = "vmx";
            else if (n == 3 && !strncmp(p, "svm", 3))
                found = "svm";
            p += n;
        }
    }
    free(line);
    fclose(f);
    return found;
}

enum mk_accel mk_accel_choose_at(const struct mk_accel_probe *probe, char *reason,
                                 size_t reason_size)
{
    int err = kvm_open_error(probe->kvm_dev);
    const char *flag;

    if (err == ENOENT) {
        snprintf(reason, reason_size, "%s does not exist", probe->kvm_dev);
        return MK_ACCEL_TCG;
    }
    if (err) {
        snprintf(reason, reason_size, "%s cannot be opened: %s", probe->kvm_dev, strerror(err));
        return MK_ACCEL_TCG;
    }
    if (kvm_is_pvm(probe)) {
        snprintf(reason, reason_size, "%s is kvm_pvm, too slow for BIOS code", probe->kvm_dev);
        return MK_ACCEL_TCG;
    }
    flag = cpu_virt_flag(probe->cpuinfo);
    if (!flag) {
        snprintf(reason, reason_size, "the CPU has no vmx or svm flag, so %s is not hardware "
                 "virtualization", probe->kvm_dev);
        return MK_ACCEL_TCG;
    }
    snprintf(reason, reason_size, "%s is usable and the CPU has %s", probe->kvm_dev, flag);
    return MK_ACCEL_KVM;
}

enum mk_accel mk_accel_choose(char *reason, size_t reason_size)
{
    return mk_accel_choose_at(&mk_accel_probe_host, reason, reason_size);
}

int mk_accel_resolve(struct mk_ctx *ctx, const struct mk_accel_probe *probe,
                     enum mk_accel want, enum mk_accel *ret, char *reason, size_t reason_size)
{
    int err;

    switch (want) {
    case MK_ACCEL_AUTO:
        *ret = mk_accel_choose_at(probe, reason, reason_size);
        return MK_OK;
    case MK_ACCEL_TCG:
        snprintf(reason, reason_size, "requested");
        *ret = MK_ACCEL_TCG;
        return MK_OK;
    case MK_ACCEL_KVM:
        err = kvm_open_error(probe->kvm_dev);
        if (err)
            return mk_set_errno(ctx, MK_EUNSUPPORTED, err, "KVM requested but %s cannot be "
                                "opened", probe->kvm_dev);
        if (kvm_is_pvm(probe)) {
            snprintf(reason, reason_size, "requested; %s is kvm_pvm, expect BIOS code to take "
                     "minutes", probe->kvm_dev);
            mk_log(ctx, MK_LOG_WARN, "%s is kvm_pvm: SeaBIOS and GRUB run very slowly under "
                   "it (over 60 s per boot); TCG is much faster here", probe->kvm_dev);
        } else {
            snprintf(reason, reason_size, "requested");
        }
        *ret = MK_ACCEL_KVM;
        return MK_OK;
    }
    return mk_set_error(ctx, MK_EINVAL, "unknown accelerator %d", (int)want);
}
