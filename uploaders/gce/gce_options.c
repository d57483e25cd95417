/* gce_options.c: the GCE uploader's options: defaults, checks of each value, and freeing. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gce_private.h"

#define DEFAULT_CHUNK (16u << 20)

static const char *const known_features[] = {
    "BARE_METAL_LINUX_COMPATIBLE", "BMSAI_CAPABLE", "CCA_CAPABLE", "FEATURE_TYPE_UNSPECIFIED",
    "GVNIC", "IDPF", "MULTI_IP_SUBNET", "SECURE_BOOT", "SEV_CAPABLE", "SEV_LIVE_MIGRATABLE",
    "SEV_LIVE_MIGRATABLE_V2", "SEV_SNP_CAPABLE", "SNP_SVSM_CAPABLE", "SUSPEND_RESUME_COMPATIBLE",
    "SUSPEND_SAFE_FPR", "TDX_CAPABLE", "UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE", "WINDOWS",
};

int gce_create(struct mk_ctx *ctx, void **ret)
{
    struct gce *g = calloc(1, sizeof(*g));

    if (!g)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    g->chunk_size = DEFAULT_CHUNK;
    g->timeout = 1800;
    g->boot_timeout = 300;
    g->backoff = 0.5;
    g->max_tries = 10;
    g->stall_timeout = 60;
    *ret = g;
    return MK_OK;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void gce_destroy(void *state)
{
    struct gce *g = state;

    if (!g)
        return;
    char **strs[] = {&g->project, &g->bucket, &g->object, &g->name, &g->family,
                     &g->description, &g->storage_location, &g->credentials,
                     &g->storage_endpoint, &g->compute_endpoint, &g->zone, &g->machine_type,
                     &g->boot_check, &g->cacert, &g->state_dir, &g->storage_base,
                     &g->compute_base, &g->source_path, &g->object_prefix,
                     &g->impersonate, &g->source_bucket, &g->source_object};
    for (size_t i = 0; i < MK_ARRAY_SIZE(strs); i++)
        free(*strs[i]);
    gce_gcloud_release(&g->gcloud);
    free_list(g->labels, g->n_labels);
    free_list(g->features, g->n_features);
    free_list(g->licenses, g->n_licenses);
    gcs_upload_free(g->up);
    json_decref(g->object_json);
    json_decref(g->image_json);
    json_decref(g->push);
    free(g->push_path);
    gce_auth_free(g->auth);
    mk_http_free(g->http);
    free(g);
}

int gce_option_string(struct mk_ctx *ctx, char **dst, const char *key, const char *value)
{
    char *s;

    if (!value || !*value)
        return mk_set_error(ctx, MK_EINVAL, "option --%s needs a value", key);
    s = strdup(value);
    if (!s)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    free(*dst);
    *dst = s;
    return MK_OK;
}

static int set_flag(struct mk_ctx *ctx, bool *dst, const char *key, const char *value)
{
    if (!value || !strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes"))
        *dst = true;
    else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no"))
        *dst = false;
    else
        return mk_set_error(ctx, MK_EINVAL, "option --%s: '%s' is not yes or no", key, value);
    return MK_OK;
}

static int set_seconds(struct mk_ctx *ctx, double *dst, const char *key, const char *value)
{
    char *end;
    double v;

    if (!value)
        return mk_set_error(ctx, MK_EINVAL, "option --%s needs a value", key);
    errno = 0;
    v = strtod(value, &end);
    if (errno || end == value || *end || !(v >= 0) || v > 1e7)
        return mk_set_error(ctx, MK_EINVAL, "option --%s: '%s' is not a number of seconds",
                            key, value);
    *dst = v;
    return MK_OK;
}

int gce_option_list_add(struct mk_ctx *ctx, char ***list, size_t *n, const char *value)
{
    char **l = realloc(*list, (*n + 1) * sizeof(**list));

    if (!l)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    *list = l;
    if (!(l[*n] = strdup(value)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    (*n)++;
    return MK_OK;
}

static bool label_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* International characters (UTF-8 bytes) are allowed too. */
        if (!(islower(c) || isdigit(c) || c == '_' || c == '-' || c >= 0x80))
            return false;
    }
    return true;
}

static int check_label(struct mk_ctx *ctx, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : 0, vlen = eq ? strlen(eq + 1) : 0;

    if (!eq || klen < 1 || klen > 63 || vlen > 63 || !islower((unsigned char)kv[0]) ||
        !label_chars(kv, klen) || !label_chars(eq + 1, vlen))
        return mk_set_error(ctx, MK_EINVAL,
                            "invalid --label '%s': want KEY=VALUE, lowercase letters, digits, "
                            "'_' and '-', the key starting with a letter, each at most 63", kv);
    return MK_OK;
}

/* B, or gsutil's gs://B and gs://B/PREFIX/ (the staged object goes under PREFIX/). */
static int set_bucket(struct mk_ctx *ctx, struct gce *g, const char *value)
{
    const char *b = value, *slash;
    size_t blen;
    int r;

    if (!value || !*value)
        return mk_set_error(ctx, MK_EINVAL, "option --bucket needs a value");
    if (!strncmp(b, "gs://", 5))
        b += 5;
    slash = strchr(b, '/');
    blen = slash ? (size_t)(slash - b) : strlen(b);
    for (size_t i = 0; i < blen; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || strchr("-_.", b[i])))
            blen = 0;
    if (blen < 1 || blen > 222)
        return mk_set_error(ctx, MK_EINVAL, "--bucket '%s': want a bucket name (lowercase "
                            "letters, digits, '-', '_', '.'), gs://BUCKET or gs://BUCKET/PREFIX/",
                            value);
    free(g->bucket);
    free(g->object_prefix);
    g->object_prefix = NULL;
    if (!(g->bucket = strndup(b, blen)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (slash && slash[1]) {
        struct mk_buf p = MK_BUF_INIT;

        while (*slash == '/')
            slash++;
        r = mk_buf_adds(&p, slash);
        while (r == MK_OK && p.len && p.buf[p.len - 1] == '/')
            p.buf[--p.len] = '\0';
        if (r == MK_OK && p.len)
            r = mk_buf_adds(&p, "/");
        if (r < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        g->object_prefix = p.len ? mk_buf_detach(&p, NULL) : NULL;
        mk_buf_release(&p);
    }
    return MK_OK;
}

/* gcloud's --source-uri: gs://B/O, or the https://storage.googleapis.com/B/O form that
 * images.insert takes (section 3.8 of the API notes). */
static int set_source_uri(struct mk_ctx *ctx, struct gce *g, const char *value)
{
    static const char https_form[] = "https://storage.googleapis.com/";
    const char *b = value, *slash;
    size_t blen;

    if (!value || !*value)
        return mk_set_error(ctx, MK_EINVAL, "option --source-uri needs a value");
    if (!strncmp(b, "gs://", 5))
        b += 5;
    else if (!strncmp(b, https_form, sizeof(https_form) - 1))
        b += sizeof(https_form) - 1;
    else
        b = NULL;
    slash = b ? strchr(b, '/') : NULL;
    blen = slash ? (size_t)(slash - b) : 0;
    for (size_t i = 0; i < blen; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || strchr("-_.", b[i])))
            blen = 0;
    if (!blen || blen > 222 || !slash[1] || slash[strlen(slash) - 1] == '/')
        return mk_set_error(ctx, MK_EINVAL, "--source-uri '%s': want gs://BUCKET/OBJECT, an "
                            "object already uploaded", value);
    free(g->source_bucket);
    free(g->source_object);
    g->source_object = NULL;
    if (!(g->source_bucket = strndup(b, blen)) || !(g->source_object = strdup(slash + 1)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

/* Features that need a UEFI boot: the images made here boot through the BIOS (an MBR and
 * GRUB i386-pc), so GCE would start them on firmware they cannot boot from. */
static const char *const uefi_only_features[] = {
    "UEFI_COMPATIBLE", "SECURE_BOOT", "SEV_CAPABLE", "SEV_LIVE_MIGRATABLE",
    "SEV_LIVE_MIGRATABLE_V2", "SEV_SNP_CAPABLE", "SNP_SVSM_CAPABLE", "TDX_CAPABLE",
};

static int add_feature(struct mk_ctx *ctx, struct gce *g, const char *value)
{
    bool known = false;

    if (!value || !*value)
        return mk_set_error(ctx, MK_EINVAL, "option --guest-os-feature needs a value");
    for (size_t i = 0; i < MK_ARRAY_SIZE(known_features); i++)
        known = known || !strcmp(value, known_features[i]);
    if (!known)
        return mk_set_error(ctx, MK_EINVAL, "unknown --guest-os-feature '%s' (e.g. "
                            "VIRTIO_SCSI_MULTIQUEUE, GVNIC, MULTI_IP_SUBNET)", value);
    for (size_t i = 0; i < MK_ARRAY_SIZE(uefi_only_features); i++)
        if (!strcmp(value, uefi_only_features[i]))
            return mk_set_error(ctx, MK_EUNSUPPORTED, "--guest-os-feature %s needs an image "
                                "that boots through UEFI%s; this one boots through the BIOS "
                                "(MBR and GRUB i386-pc)", value,
                                !strncmp(value, "SEV", 3) || !strncmp(value, "TDX", 3) ||
                                        !strncmp(value, "SNP", 3)
                                    ? " (Confidential VMs start only from UEFI)" : "");
    for (size_t i = 0; i < g->n_features; i++)
        if (!strcmp(g->features[i], value))
            return MK_OK;
    if (!strcmp(value, "GVNIC"))
        mk_log(ctx, MK_LOG_WARN, "GVNIC: the unikernel needs a gVNIC driver, or it will "
                                 "have no network on GCE");
    return gce_option_list_add(ctx, &g->features, &g->n_features, value);
}

static int split_list(struct mk_ctx *ctx, struct gce *g, const char *key, const char *value)
{
    char *copy, *save = NULL;
    int r = MK_OK;

    if (!value || !*value)
        return mk_set_error(ctx, MK_EINVAL, "option --%s needs a value", key);
    if (!(copy = strdup(value)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (char *item = strtok_r(copy, ",", &save); item && r == MK_OK;
         item = strtok_r(NULL, ",", &save)) {
        if (!strcmp(key, "labels"))
            r = gce_set_option(ctx, g, "label", item);
        else if (!strcmp(key, "guest-os-features"))
            r = add_feature(ctx, g, item);
        else
            r = gce_option_list_add(ctx, &g->licenses, &g->n_licenses, item);
    }
    free(copy);
    return r;
}

int gce_set_option(struct mk_ctx *ctx, void *state, const char *key, const char *value)
{
    struct gce *g = state;
    struct {
        const char *key;
        char **dst;
    } strs[] = {
        {"project", &g->project}, {"name", &g->name},
        {"impersonate-service-account", &g->impersonate},
        {"family", &g->family}, {"description", &g->description},
        {"storage-location", &g->storage_location}, {"credentials", &g->credentials},
        {"storage-endpoint", &g->storage_endpoint}, {"compute-endpoint", &g->compute_endpoint},
        {"zone", &g->zone}, {"machine-type", &g->machine_type}, {"boot-check", &g->boot_check},
        {"object", &g->object}, {"cacert", &g->cacert}, {"state-dir", &g->state_dir},
    };
    struct {
        const char *key;
        bool *dst;
    } flags[] = {
        {"replace", &g->replace}, {"keep-object", &g->keep_object},
        {"create-bucket", &g->create_bucket}, {"insecure", &g->insecure},
        {"no-resume", &g->no_resume},
    };
    struct {
        const char *key;
        double *dst;
    } secs[] = {
        {"timeout", &g->timeout}, {"boot-timeout", &g->boot_timeout},
        {"backoff", &g->backoff}, {"stall-timeout", &g->stall_timeout},
    };

    for (size_t i = 0; i < MK_ARRAY_SIZE(strs); i++)
        if (!strcmp(key, strs[i].key))
            return gce_option_string(ctx, strs[i].dst, key, value);
    for (size_t i = 0; i < MK_ARRAY_SIZE(flags); i++)
        if (!strcmp(key, flags[i].key))
            return set_flag(ctx, flags[i].dst, key, value);
    for (size_t i = 0; i < MK_ARRAY_SIZE(secs); i++)
        if (!strcmp(key, secs[i].key))
            return set_seconds(ctx, secs[i].dst, key, value);
    if (!strcmp(key, "bucket"))
        return set_bucket(ctx, g, value);
    if (!strcmp(key, "source-uri"))
        return set_source_uri(ctx, g, value);
    if (!strcmp(key, "label")) {
        int r = value ? check_label(ctx, value) : gce_option_string(ctx, NULL, key, value);

        if (r == MK_OK && g->n_labels >= 64)
            r = mk_set_error(ctx, MK_EINVAL, "too many --label options (GCE allows 64)");
        return r < 0 ? r : gce_option_list_add(ctx, &g->labels, &g->n_labels, value);
    }
    if (!strcmp(key, "guest-os-feature"))
        return add_feature(ctx, g, value);
    /* gcloud's spellings: comma-separated lists. */
    if (!strcmp(key, "labels") || !strcmp(key, "guest-os-features") || !strcmp(key, "licenses"))
        return split_list(ctx, g, key, value);
    if (!strcmp(key, "architecture")) {
        if (value && !strcasecmp(value, "X86_64"))
            return MK_OK;
        return mk_set_error(ctx, value && !strcasecmp(value, "ARM64") ? MK_EUNSUPPORTED
                            : MK_EINVAL, "--architecture %s: the image is an x86 BIOS disk "
                            "(GRUB i386-pc), so only X86_64 fits", value ? value : "(none)");
    }
    if (!strcmp(key, "chunk-size")) {
        uint64_t v;
        int r = value ? mk_parse_size(ctx, value, &v)
                      : mk_set_error(ctx, MK_EINVAL, "option --chunk-size needs a value");

        if (r < 0)
            return r;
        if (v == 0 || v % GCS_CHUNK_UNIT || v > (1u << 30))
            return mk_set_error(ctx, MK_EINVAL, "--chunk-size %s: must be a multiple of 256K, "
                                "at most 1G", value);
        g->chunk_size = v;
        g->chunk_size_given = true;
        return MK_OK;
    }
    if (!strcmp(key, "retries")) {
        char *end;
        long v = value ? strtol(value, &end, 10) : -1;

        if (!value || *end || v < 0 || v > 100)
            return mk_set_error(ctx, MK_EINVAL, "option --retries wants 0-100");
        g->max_tries = (int)v;
        return MK_OK;
    }
    return mk_set_error(ctx, MK_EUNSUPPORTED, "gce: unknown option --%s", key);
}


/* --OPTION VALUE on the command line, KEY: VALUE in a spec. */
const struct mk_uploader_option gce_options[] = {
    {.name = "project",
     .arg = "P",
     .help = "project (default: GOOGLE_CLOUD_PROJECT,\n"
             "CLOUDSDK_CORE_PROJECT, the credentials',\n"
             "gcloud's core/project)"},
    {.name = "bucket",
     .arg = "B",
     .help = "bucket to stage the archive in (required unless\n"
             "--source-uri): B, gs://B or gs://B/PREFIX/"},
    {.name = "source-uri",
     .arg = "gs://B/O",
     .help = "make the image from this object, already uploaded (give no\n"
             "ARCHIVE; nothing is uploaded, the object is never deleted)"},
    {.name = "name", .arg = "N", .help = "image name (default: from the file name)"},
    {.name = "family", .arg = "F", .help = "image family"},
    {.name = "description", .arg = "D", .help = "image description"},
    {.name = "label", .arg = "K=V", .help = "image label", .repeat = true},
    {.name = "guest-os-feature",
     .arg = "F",
     .help = "e.g. VIRTIO_SCSI_MULTIQUEUE; none by default",
     .repeat = true},
    {.name = "labels", .arg = "K=V,...", .help = "image labels (gcloud's spelling)"},
    {.name = "guest-os-features",
     .arg = "F,...",
     .help = "guest OS features (gcloud's spelling); UEFI_COMPATIBLE,\n"
             "SECURE_BOOT, SEV_* and TDX_CAPABLE are refused: the image\n"
             "boots through the BIOS"},
    {.name = "licenses", .arg = "L,...", .help = "licenses to attach to the image"},
    {.name = "architecture", .arg = "A", .help = "X86_64, the only one the image fits"},
    {.name = "storage-location", .arg = "L", .help = "where the image is stored (e.g. us, eu)"},
    {.name = "replace", .help = "replace an existing image of that name"},
    {.name = "keep-object", .help = "keep the staged object in the bucket"},
    {.name = "create-bucket", .help = "create the bucket if it does not exist"},
    {.name = "object", .arg = "NAME", .help = "staged object name (default: NAME.tar.gz)"},
    {.name = "boot-check",
     .arg = "TEXT",
     .help = "boot an instance, wait for TEXT on its serial port"},
    {.name = "zone",
     .arg = "Z",
     .help = "zone of the boot-check instance (default:\n"
             "CLOUDSDK_COMPUTE_ZONE, gcloud's compute/zone)"},
    {.name = "machine-type", .arg = "T", .help = "its machine type (default e2-small)"},
    {.name = "boot-timeout", .arg = "SECONDS", .help = "how long to wait for TEXT (default 300)"},
    {.name = "timeout", .arg = "SECONDS", .help = "image creation timeout (default 1800)"},
    {.name = "credentials",
     .arg = "KEY.json",
     .help = "service_account, authorized_user, external_account or\n"
             "impersonated_service_account file (default:\n"
             "GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC, metadata)"},
    {.name = "impersonate-service-account",
     .arg = "EMAIL",
     .help = "act as this service account (default:\n"
             "gcloud's auth/impersonate_service_account)"},
    {.name = "storage-endpoint",
     .arg = "URL",
     .help = "Cloud Storage endpoint (or STORAGE_EMULATOR_HOST)"},
    {.name = "compute-endpoint",
     .arg = "URL",
     .help = "Compute API base URL, in place of\n"
             "https://compute.googleapis.com/compute/v1/"},
    {.name = "chunk-size", .arg = "SIZE",
     .help = "upload chunk, a multiple of 256K (default: a file in one request,\n"
             "a disk made on the fly in 16M chunks)"},
    {.name = "retries", .arg = "N", .help = "tries per request before giving up (default 10)"},
    {.name = "backoff",
     .arg = "SECONDS",
     .help = "first retry delay, doubled each time (default 0.5)"},
    {.name = "stall-timeout",
     .arg = "SECONDS",
     .help = "abandon a transfer that moves nothing (default 60)"},
    {.name = "no-resume", .help = "do not resume an interrupted upload of the same bytes"},
    {.name = "state-dir",
     .arg = "DIR",
     .help = "where sessions are remembered (default\n"
             "$XDG_STATE_HOME/unikernel-mkimage)"},
    {.name = "cacert", .arg = "FILE", .help = "CA bundle for TLS"},
    {.name = "insecure", .help = "do not verify TLS certificates"},
    {0},
};
