/* fuzz_solo5_manifest.c: the Solo5 manifest reader (an ELF file's ".note.solo5.manifest")
 * against arbitrary bytes. Whatever the input, it must return 1 with a manifest whose counts
 * agree with its devices and whose names are printable, 0, or an error with a one-line
 * message; and the machine check must always produce one line.
 * seeds: for d in "" net:service block:storage "net:service net:service2 block:storage"; do python3 "$MK_SOURCE_DIR/tests/integration/solo5_note.py" "$WORK/note.bin" $d && objcopy -O elf64-x86-64 --add-section .note.solo5.manifest="$WORK/note.bin" "$MBPROBE" "$SEEDS/probe-${#d}.elf"; done
 * options: -max_len=65536
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unikernel-mkimage/mkimage.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mk_ctx *ctx;
    struct mk_solo5_manifest m;
    char warning[1024];
    int r;

    if (!ctx && !(ctx = mk_ctx_new()))
        abort();
    r = mk_solo5_manifest_parse(ctx, data, size, &m);
    if (r < 0) {
        const char *msg = mk_errmsg(ctx);

        if (!msg || !*msg || strchr(msg, '\n'))
            abort();
        return 0;
    }
    if (r == 0)
        return 0;
    if (r != 1 || m.count > MK_SOLO5_MAX_DEVICES || m.net_count + m.block_count > m.count)
        abort();
    for (unsigned i = 0; i < m.count; i++) {
        size_t n = strnlen(m.devices[i].name, sizeof(m.devices[i].name));

        if (n == 0 || n == sizeof(m.devices[i].name))
            abort();
        for (size_t k = 0; k < n; k++)
            if (m.devices[i].name[k] <= ' ' || m.devices[i].name[k] >= 0x7f)
                abort();
        if (!mk_solo5_device_type_name(m.devices[i].type))
            abort();
    }
    for (unsigned net = 0; net < 3; net++)
        for (unsigned blk = 0; blk < 3; blk++) {
            int n = mk_solo5_check_machine(&m, net, blk, blk > 0, warning, sizeof(warning));

            if (n < 0 || (n == 0) != (warning[0] == '\0') || strchr(warning, '\n'))
                abort();
        }
    return 0;
}
