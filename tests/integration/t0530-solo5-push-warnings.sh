#!/usr/bin/env bash
# t0530-solo5-push-warnings: push reads the Solo5 manifest of the kernel (or of the image's
# kernel) and warns in plain words, before uploading, when the target's machine will make
# Solo5 abort: GCE's NIC for a unikernel that declares no network device, an OpenStack
# image whose disk bus is virtio. No cloud is reached: the pushes fail afterwards for want of
# credentials, and only their warnings are looked at.
. "$(dirname "$0")/lib.sh"
need python3 objcopy
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
export HOME=$T/home
mkdir -p "$HOME"
unset GOOGLE_APPLICATION_CREDENTIALS OS_CLOUD OS_AUTH_URL CLOUDSDK_CONFIG || true

python3 "$MK_SOURCE_DIR/tests/integration/solo5_note.py" none.note
objcopy -O elf64-x86-64 --add-section .note.solo5.manifest=none.note "$MBPROBE" hello.elf 2>/dev/null
python3 "$MK_SOURCE_DIR/tests/integration/solo5_note.py" net.note net:service
objcopy -O elf64-x86-64 --add-section .note.solo5.manifest=net.note "$MBPROBE" net.elf 2>/dev/null

# push_err ARGS...: the push's stderr in err (its exit status does not matter here).
push_err() { "$MKIMAGE" push "$@" >out 2>err || true; }

push_err gce --project p --bucket b --family f hello.elf
grep -qF "warning: pushing to gce: the machine has 1 virtio-net NIC and the unikernel declares no network device: Solo5 aborts at start" err ||
    fail "no GCE warning for a unikernel without a network device: $(cat err)"
push_err gce --project p --bucket b --family f net.elf
grep -qF "Solo5 manifest: NET_BASIC 'service'" err || fail "push does not show the manifest: $(cat err)"
! grep -qF "warning: pushing to" err || fail "a GCE warning for a unikernel with a NIC: $(cat err)"
ok "push gce warns about a unikernel that declares no network device"

# The archive of such a unikernel: the manifest is read from the image's kernel.
"$MKIMAGE" build -q -o hello.tar.gz hello.elf
push_err gce --project p --bucket b --family f hello.tar.gz
grep -qF "warning: pushing to gce: the machine has 1 virtio-net NIC" err ||
    fail "no GCE warning for an archive: $(cat err)"
ok "push gce reads the manifest of an archive's kernel"

push_err openstack --os-cloud nosuch --preset solo5 net.elf
! grep -qF "warning: pushing to" err || fail "a warning for the solo5 preset: $(cat err)"
push_err openstack --os-cloud nosuch --preset solo5 --property hw_disk_bus=virtio net.elf
grep -qF "warning: pushing to openstack (hw_disk_bus virtio): the boot disk is virtio-blk and the unikernel declares no block device" err ||
    fail "no warning for hw_disk_bus=virtio: $(cat err)"
push_err openstack --os-cloud nosuch net.elf
grep -qF "(hw_disk_bus virtio, Nova's default): the boot disk is virtio-blk" err ||
    fail "no warning without a preset: $(cat err)"
ok "push openstack warns when the disk bus is virtio"
