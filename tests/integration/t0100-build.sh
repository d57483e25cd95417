#!/usr/bin/env bash
# t0100-build: an image built by us, checked by independent tools: sfdisk, e2fsck, debugfs,
# grub-file; reproducibility; sparseness at 1 GiB and 10 GiB.
. "$(dirname "$0")/lib.sh"
need sfdisk e2fsck debugfs grub-file python3 cmp du
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built (MBPROBE='${MBPROBE:-}')"

head -c 100000 /dev/urandom >mod1.bin
printf 'second module\n' >mod2.txt
mkdir -p extra
printf 'config for the app\n' >extra/app.conf
export SOURCE_DATE_EPOCH=1700000000

"$MKIMAGE" build -q -o disk.raw --module mod1.bin:first --module "mod2.txt:a b" \
    --file extra/app.conf:/etc/app/app.conf "$MBPROBE" -- one two
[ -f disk.raw ] || fail "no disk.raw"
[ "$(stat -c %s disk.raw)" -eq $((1024 * 1024 * 1024)) ] || fail "default size is not 1 GiB"
no_files_like . ".disk.raw."
ok "built a 1 GiB image"

# The partition table as sfdisk sees it.
sfdisk -J disk.raw >sfdisk.json
python3 - <<'PY' || fail "sfdisk: $(cat sfdisk.json)"
import json
t = json.load(open("sfdisk.json"))["partitiontable"]
assert t["label"] == "dos", t
assert len(t["partitions"]) == 1, t
p = t["partitions"][0]
assert p["start"] == 2048, p
assert p["size"] == 1024 * 1024 * 2 - 2048, p
assert p["type"] == "83", p
assert p.get("bootable") is True, p
assert t["id"] not in ("0x00000000", None), t
PY
ok "sfdisk: one active 0x83 partition from LBA 2048 to the end"

e2fsck -fn 'disk.raw?offset=1048576' >e2fsck.out 2>&1 || fail "e2fsck: $(cat e2fsck.out)"
ok "e2fsck -fn finds nothing to fix"

# Every file reads back identical through debugfs.
check_file() {
    debugfs -R "dump $1 $T/dumped" 'disk.raw?offset=1048576' >/dev/null 2>&1 || fail "debugfs cannot dump $1"
    cmp -s "$T/dumped" "$2" || fail "$1 differs from $2"
}
check_file "/boot/$(basename "$MBPROBE")" "$MBPROBE"
check_file /boot/mod1.bin mod1.bin
check_file /boot/mod2.txt mod2.txt
check_file /etc/app/app.conf extra/app.conf
ok "debugfs: kernel, modules and extra files equal the inputs"

debugfs -R "cat /boot/grub/grub.cfg" 'disk.raw?offset=1048576' 2>/dev/null >grub.cfg
grep -q "^serial --unit=0 --speed=115200" grub.cfg || fail "no serial console in grub.cfg"
grep -q "set timeout=0" grub.cfg || fail "no timeout=0 in grub.cfg"
grep -q "multiboot /boot/$(basename "$MBPROBE") one two" grub.cfg || fail "kernel line: $(cat grub.cfg)"
grep -q "module /boot/mod1.bin first" grub.cfg || fail "module line: $(cat grub.cfg)"
ok "grub.cfg has the serial console, the kernel and its modules"

debugfs -R "dump /boot/$(basename "$MBPROBE") $T/k" 'disk.raw?offset=1048576' >/dev/null 2>&1
grub-file --is-x86-multiboot "$T/k" || fail "grub-file does not see a multiboot kernel in the image"
ok "grub-file: the kernel in the image is multiboot"

# GRUB's boot code: boot.img in the MBR with the partition table kept, core.img after it.
python3 - "$T/disk.raw" <<'PY' || fail "boot code"
import struct, sys
d = open(sys.argv[1], "rb").read(1024 * 1024)
boot = open("/usr/lib/grub/i386-pc/boot.img", "rb").read()
assert d[510:512] == b"\x55\xaa"
assert d[0x5c:0x64] == struct.pack("<Q", 1), "kernel_sector"
assert d[0x64] == 0xff, "boot_drive"
assert d[0x66:0x68] == b"\x90\x90", "drive check"
assert d[0x68:0x1b8] == boot[0x68:0x1b8], "boot.img code"
start, n, seg = struct.unpack("<QHH", d[512 + 0x1f4:512 + 0x200])
assert start == 2 and seg == 0x820 and n > 0, (start, n, seg)
PY
ok "boot.img patched in the MBR, core.img blocklist at LBA 2"

# Reproducible: the same inputs give the same bytes.
"$MKIMAGE" build -q -o disk2.raw --module mod1.bin:first --module "mod2.txt:a b" \
    --file extra/app.conf:/etc/app/app.conf "$MBPROBE" -- one two
cmp -s disk.raw disk2.raw || fail "two builds of the same inputs differ"
SOURCE_DATE_EPOCH=1800000000 "$MKIMAGE" build -q -o disk3.raw "$MBPROBE"
cmp -s disk.raw disk3.raw && fail "different inputs gave identical images"
"$MKIMAGE" build -q -o disk4.raw --uuid 01234567-89ab-cdef-0123-456789abcdef "$MBPROBE"
dumpe2fs -h 'disk4.raw?offset=1048576' >dumpe2fs.txt 2>/dev/null
grep -qi "UUID: *01234567-89ab-cdef-0123-456789abcdef" dumpe2fs.txt \
    || fail "--uuid not applied"
ok "reproducible; --uuid applied"

# Sparse: a 10 GiB image of a small kernel allocates a few MiB.
"$MKIMAGE" build -q -o big.raw --size 10G "$MBPROBE" -- x
[ "$(stat -c %s big.raw)" -eq $((10 * 1024 * 1024 * 1024)) ] || fail "10G is not 10 GiB"
alloc_kib=$(du -k big.raw | cut -f1)
[ "$alloc_kib" -lt 8192 ] || fail "10 GiB image allocates $alloc_kib KiB"
e2fsck -fn 'big.raw?offset=1048576' >/dev/null 2>&1 || fail "e2fsck on the 10 GiB image"
ok "10 GiB image allocates $alloc_kib KiB and is e2fsck-clean"

# Sizes with suffixes, and options after the kernel.
"$MKIMAGE" build "$MBPROBE" -q --size 64M -o small.raw -- a
[ "$(stat -c %s small.raw)" -eq $((64 * 1024 * 1024)) ] || fail "64M"
e2fsck -fn 'small.raw?offset=1048576' >/dev/null 2>&1 || fail "e2fsck on the 64 MiB image"
ok "options after the kernel; 64 MiB image"
