#!/usr/bin/env bash
# t0130-build-gzip: a gzip-compressed multiboot kernel (Debian's xen.gz style) is accepted:
# checked on its decompressed bytes, stored decompressed so GRUB loads it without its gzio
# module, and it boots. A gzip file that does not hold a multiboot kernel is refused.
. "$(dirname "$0")/lib.sh"
need qemu-system-x86_64 gzip debugfs cmp
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

gzip -9 -c "$MBPROBE" >probe.gz
"$MKIMAGE" build -q -o disk.raw --size 64M probe.gz -- from gzip ||
    fail "build of a gzip-compressed kernel failed"
debugfs -R "dump /boot/probe $T/k" 'disk.raw?offset=1048576' >/dev/null 2>&1
cmp -s k "$MBPROBE" || fail "/boot/probe is not the decompressed kernel"
"$MKIMAGE" boot disk.raw --accel tcg --timeout 60 --expect 'MBPROBE: done' --log serial.log \
    >/dev/null 2>err || fail "boot: $(cat err serial.log)"
grep -qF "cmdline='from gzip'" serial.log || fail "cmdline: $(cat serial.log)"
ok "a gzip-compressed multiboot kernel is stored decompressed as /boot/probe and boots"

"$MKIMAGE" inspect disk.raw >inspect.out || fail "inspect found problems: $(cat inspect.out)"

head -c 10000 /dev/urandom | gzip -c >junk.gz
expect_fail "'junk.gz' (gzip-compressed)" "$MKIMAGE" build -o out.raw junk.gz
printf 'not gzip after all' | gzip -c | head -c 20 >cut.gz
expect_fail "cut.gz" "$MKIMAGE" build -o out.raw cut.gz
[ ! -e out.raw ] || fail "a failed build left out.raw"
ok "a gzip file without a multiboot kernel, or a truncated one, is refused in one line"
