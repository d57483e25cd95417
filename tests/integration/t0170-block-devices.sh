#!/usr/bin/env bash
# t0170-block-devices: a block device is an image only with --device: build -o and pack -o
# write the raw disk onto it in place (holes as zeros, the rest of the device untouched,
# synced), never replacing or resizing it, refusing one that is too small, in use, or one of
# the inputs; inspect, pack, push and boot read one in place. Without --device, and for
# character devices, FIFOs and symbolic links to files, nothing changes. On a loop device
# this test attaches itself to a file.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
[ -e /dev/loop-control ] || skip "no /dev/loop-control: no loop device to test with"
[ "$(id -u)" = 0 ] || skip "attaching a loop device needs root"
need losetup cmp python3 stat

# The "stick" holds random bytes from an earlier life: nothing of them may show through.
head -c 48M /dev/urandom >stick
cp stick stick.before
LOOP=$(losetup --find --show stick 2>err) || skip "losetup cannot attach a loop device: $(cat err)"
trap 'losetup -d "$LOOP" 2>/dev/null; rm -rf "$T"' EXIT
unchanged() {
    cmp -s stick stick.before || fail "$1 changed the device"
    [ "$(stat -L -c %F "$LOOP")" = "block special file" ] || fail "$1 replaced the device node"
}

"$MKIMAGE" build -q -o disk.raw --size 32M "$MBPROBE" -- hello || fail "build to a file"
expect_fail "output '$LOOP' is a block device; give --device to write the disk onto it, in place" \
    "$MKIMAGE" build -o "$LOOP" --size 32M "$MBPROBE" -- hello
unchanged "build without --device"
expect_fail "does not fit on block device '$LOOP' (50331648 bytes, 48 MiB); nothing was written" \
    "$MKIMAGE" build -o "$LOOP" --device --size 64M "$MBPROBE" -- hello
unchanged "a build too big for the device"
expect_fail "a disk is written onto it raw, not as qcow2" \
    "$MKIMAGE" build -o "$LOOP" --device -f qcow2 --size 32M "$MBPROBE" -- hello
unchanged "a qcow2 build onto the device"
# Something holding the device (here an exclusive open, as a mount would) keeps us off it.
python3 -c 'import os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL); print("held", flush=True); time.sleep(30)' \
    "$LOOP" >held &
holder=$!
for _ in $(seq 50); do [ -s held ] && break; sleep 0.1; done
expect_fail "block device '$LOOP' is in use (mounted, or held by LVM, RAID or swap); nothing was written" \
    "$MKIMAGE" build -o "$LOOP" --device --size 32M "$MBPROBE" -- hello
kill "$holder"
wait "$holder" 2>/dev/null || true
unchanged "a build onto a device in use"
ok "without --device, too small, not raw or in use: the device is refused and untouched"

"$MKIMAGE" build -o "$LOOP" --device --size 32M "$MBPROBE" -- hello 2>err || fail "build --device: $(cat err)"
grep -qF "wrote $LOOP in place (raw, 32 MiB disk holding" err || fail "not said: $(cat err)"
grep -qF "block device of 48 MiB, synced)" err || fail "not said: $(cat err)"
[ "$(stat -L -c %F "$LOOP")" = "block special file" ] || fail "the device node was replaced"
cmp -n $((32 << 20)) disk.raw "$LOOP" || fail "the device does not hold the image (holes as zeros)"
cmp -i $((32 << 20)) stick.before "$LOOP" || fail "the device past the image was changed"
# Through a symbolic link, as /dev/disk/by-id/... and /dev/VG/LV are; with a spec's output too.
cp stick.before stick
ln -s "$LOOP" by-id
"$MKIMAGE" build -q -o by-id --device --size 32M "$MBPROBE" -- hello || fail "build -o LINK --device"
[ -L by-id ] || fail "the link to the device was replaced"
cmp -n $((32 << 20)) disk.raw "$LOOP" || fail "the device behind a link does not hold the image"
cp "$MBPROBE" kernel.elf
printf 'image: {kernel: kernel.elf, size: 32M, args: [hello]}\noutput: by-id\n' >spec.yaml
expect_fail "output 'by-id' is a block device; give --device" "$MKIMAGE" build --spec spec.yaml
"$MKIMAGE" build --spec spec.yaml --device 2>err || fail "spec output onto a device: $(cat err)"
grep -qF "wrote by-id in place (block device; synced)" err || fail "spec: not said: $(cat err)"
ok "build -o DEVICE --device writes the image in place, holes zeroed, the rest untouched"

expect_fail "IMAGE '$LOOP' is a block device; give --device to read it in place" \
    "$MKIMAGE" inspect "$LOOP"
"$MKIMAGE" inspect --device "$LOOP" >report 2>err || fail "inspect --device: $(cat err) $(cat report)"
grep -q "^problems: *none" report || fail "inspect --device: $(cat report)"
expect_fail "IMAGE '$LOOP' is a block device; give --device" "$MKIMAGE" pack "$LOOP" -o copy.raw
"$MKIMAGE" pack -q "$LOOP" --device -o copy.raw || fail "pack from a device"
[ "$(stat -c %s copy.raw)" = $((48 << 20)) ] || fail "pack: not the device's size"
cmp copy.raw "$LOOP" || fail "pack: not the device's bytes"
expect_fail "output 'by-id' is one of the inputs (or shares its device)" \
    "$MKIMAGE" pack "$LOOP" --device -o by-id
ok "inspect and pack read a device with --device; pack refuses it as its own output"

# push: a plugin that keeps what it receives on fd 3.
mkdir bin store
cat >bin/unikernel-mkimage-uploader-keep <<'EOF'
#!/bin/sh
case "$1" in
describe) echo '{"protocol": 1, "description": "keeps it", "formats": ["raw"]}'; exit 0 ;;
esac
while IFS= read -r line && [ -n "$line" ]; do :; done
cat <&3 >"$STORE/pushed"
echo '{"status": "ok", "image": "kept"}'
EOF
chmod +x bin/unikernel-mkimage-uploader-keep
export STORE=$T/store
PATH=$T/bin:$PATH expect_fail "ARCHIVE '$LOOP' is a block device; give --device" \
    "$MKIMAGE" push keep "$LOOP"
PATH=$T/bin:$PATH "$MKIMAGE" push keep -q --device "$LOOP" 2>err || fail "push --device: $(cat err)"
cmp store/pushed "$LOOP" || fail "push did not send the device's bytes"
ok "push --device uploads a device's bytes"

if command -v qemu-system-x86_64 >/dev/null; then
    expect_fail "IMAGE '$LOOP' is a block device; give --device" "$MKIMAGE" boot "$LOOP" --timeout 5
    timeout 120 "$MKIMAGE" boot "$LOOP" --device --accel tcg --expect 'MBPROBE: done' \
        --timeout 60 >boot.log 2>&1 || fail "boot --device: $(tail -5 boot.log)"
    cmp copy.raw "$LOOP" || fail "boot wrote to the device"
    ok "boot --device boots the device, unchanged"
fi

# What stays refused with --device: character devices, FIFOs, links to files, block devices
# that were not named (a kernel).
expect_fail "output '/dev/null' is a character device; only a regular file is replaced" \
    "$MKIMAGE" build -o /dev/null --device --size 32M "$MBPROBE"
mkfifo fifo
expect_fail "'fifo' is a FIFO, not a regular file" timeout 10 "$MKIMAGE" inspect --device fifo
echo precious >file
ln -s file link
expect_fail "output 'link' is a symbolic link; only a regular file is replaced" \
    "$MKIMAGE" build -o link --device --size 32M "$MBPROBE"
[ "$(cat file)" = precious ] || fail "a link to a file was followed"
expect_fail "kernel '$LOOP' is not a regular file" \
    "$MKIMAGE" build -o out.raw --device --size 32M "$LOOP"
ok "character devices, FIFOs, links to files and unnamed block devices stay refused"
