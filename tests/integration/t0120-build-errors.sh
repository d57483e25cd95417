#!/usr/bin/env bash
# t0120-build-errors: bad input gets a one-line error naming the culprit, a non-zero exit,
# and no output: no file, no temporary file, and an existing output left untouched.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

mkdir out
echo "precious" >out/disk.raw
before=$(md5sum <out/disk.raw)
assert_untouched() {
    [ "$(md5sum <out/disk.raw)" = "$before" ] || fail "the existing output was changed"
    [ "$(ls -A out)" = "disk.raw" ] || fail "files left in out/: $(ls -A out)"
}

echo "not a kernel" >notelf.txt
expect_fail "notelf.txt': not an ELF" "$MKIMAGE" build -o out/disk.raw notelf.txt
assert_untouched
cp /bin/true noheader.elf
expect_fail "noheader.elf': no multiboot header" "$MKIMAGE" build -o out/disk.raw noheader.elf
assert_untouched
ok "non-ELF and header-less kernels rejected"

cp "$MBPROBE" big.elf
head -c $((20 * 1024 * 1024)) /dev/urandom >>big.elf
expect_fail "big.elf" "$MKIMAGE" build -o out/disk.raw --size 16M big.elf
grep -q "does not fit" "$T/err" || fail "kernel too large: $(cat "$T/err")"
assert_untouched
expect_fail "too small" "$MKIMAGE" build -o out/disk.raw --size 1M "$MBPROBE"
assert_untouched
expect_fail "--size" "$MKIMAGE" build -o out/disk.raw --size 12Q "$MBPROBE"
assert_untouched
ok "too-large kernel, too-small and malformed sizes rejected"

expect_fail "unknown template 'nosuch'" "$MKIMAGE" build -o out/disk.raw --template nosuch "$MBPROBE"
assert_untouched
expect_fail "missing.bin" "$MKIMAGE" build -o out/disk.raw --module missing.bin:x "$MBPROBE"
assert_untouched
expect_fail "--file 'nocolon'" "$MKIMAGE" build -o out/disk.raw --file nocolon "$MBPROBE"
[ "$(cat "$T/err" | wc -l)" -eq 1 ] || fail "malformed --file"
assert_untouched
expect_fail "nosuchsrc" "$MKIMAGE" build -o out/disk.raw --file nosuchsrc:/etc/x "$MBPROBE"
assert_untouched
expect_fail "not a clean absolute" "$MKIMAGE" build -o out/disk.raw --file notelf.txt:/../x "$MBPROBE"
assert_untouched
expect_fail "no KERNEL" "$MKIMAGE" build -o out/disk.raw
expect_fail "missing-kernel.elf" "$MKIMAGE" build -o out/disk.raw missing-kernel.elf
assert_untouched
ok "unknown template, missing module, malformed --file, missing kernel rejected"

# The usage errors exit 2, the others 1.
rc=0; "$MKIMAGE" build -o out/disk.raw --file nocolon "$MBPROBE" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "usage error exit status $rc"
rc=0; "$MKIMAGE" build -o out/disk.raw notelf.txt 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "input error exit status $rc"
ok "exit statuses: 2 for usage, 1 for bad input"

expect_fail "nodir/disk.raw" "$MKIMAGE" build -o nodir/disk.raw "$MBPROBE"
[ ! -e nodir ] || fail "nodir created"
mkdir ro
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    # Root writes anywhere: run as nobody, with copies it can read wherever the clone is
    # (a clone under /root is out of nobody's reach).
    chmod 0755 ro
    chmod o+rx "$T" .
    cp "$MBPROBE" "$T/k.elf" && chmod 0644 "$T/k.elf"
    cp "$MKIMAGE" "$T/mkimage" && chmod 0755 "$T/mkimage"
    cp -r "$MK_SOURCE_DIR/templates" "$T/templates" && chmod -R o+rX "$T/templates"
    expect_fail "ro/disk.raw" env MK_TEMPLATE_DIR="$T/templates" \
        setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$T/mkimage" build -o "$T/ro/disk.raw" "$T/k.elf"
else
    chmod 0555 ro
    expect_fail "ro/disk.raw" "$MKIMAGE" build -o ro/disk.raw "$MBPROBE"
fi
[ -z "$(ls -A ro)" ] || fail "files left in an unwritable folder"
ok "unwritable output folder rejected"

# A missing GRUB is named with the package to install.
expect_fail "grub-pc-bin" "$MKIMAGE" build -o out/disk.raw --grub-dir /nonexistent "$MBPROBE"
assert_untouched
ok "missing GRUB modules name the Debian package"
