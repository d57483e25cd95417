#!/usr/bin/env bash
# t0510-boot-devices: `boot` builds the virtual machine asked for. The probe lists the PCI
# devices it finds, so each machine is checked from inside the guest: --machine gce is q35
# with a virtio-scsi boot disk and one virtio-net NIC and no VGA; --disk adds data disks on
# their bus; --net adds NICs; a UDP datagram sent to a host port forwarded with
# --net user,hostfwd=... reaches the guest's NIC and comes back.
. "$(dirname "$0")/lib.sh"
need qemu-system-x86_64 python3 qemu-img
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

"$MKIMAGE" build -q -o disk.raw --size 64M "$MBPROBE" -- devices
qemu-img create -q -f raw data1.raw 8M
qemu-img create -q -f qcow2 data2.qcow2 8M
qemu-img create -q -f raw data3.raw 8M

# boot_pci NAME ARGS...: boots disk.raw to "MBPROBE: done" and keeps the PCI lines in NAME.pci
# as "vendor:device:class", one per function.
boot_pci() {
    local name=$1
    shift
    "$MKIMAGE" boot disk.raw --accel tcg --timeout 60 --expect 'MBPROBE: done' \
        --log "$name.log" "$@" >/dev/null 2>"$name.err" ||
        fail "boot $*: $(cat "$name.err"; cat "$name.log")"
    tr -d '\r' <"$name.log" |
        sed -n 's/^MBPROBE: pci [0-9a-f:.]* vendor=0x\(....\) device=0x\(....\) class=0x\(......\)$/\1:\2:\3/p' \
        >"$name.pci"
    [ -s "$name.pci" ] || fail "no PCI devices listed by the probe: $(cat "$name.log")"
}
has() { grep -qx "$2" "$1.pci" || fail "$1: no PCI device $2 in: $(tr '\n' ' ' <"$1.pci")"; }
hasnt() { ! grep -q "$2" "$1.pci" || fail "$1: unexpected PCI device $2 in: $(tr '\n' ' ' <"$1.pci")"; }
count() { [ "$(grep -c "$2" "$1.pci")" -eq "$3" ] || fail "$1: expected $3 of $2 in: $(tr '\n' ' ' <"$1.pci")"; }

VIRTIO_NET=1af4:1000:020000
VIRTIO_BLK=1af4:1001:010000
VIRTIO_SCSI=1af4:1004:010000
Q35_HOST=8086:29c0:060000
PIIX_IDE=8086:7010:010180

# The default stays today's: a pc with the boot disk on IDE and nothing else.
boot_pci pc
has pc "$PIIX_IDE"
hasnt pc "^1af4:"
hasnt pc ":0300..$"
ok "default machine: pc, IDE boot disk, no NIC"

# GCE's device model.
boot_pci gce --machine gce
has gce "$Q35_HOST"
has gce "$VIRTIO_SCSI"
count gce "$VIRTIO_NET" 1
hasnt gce "$VIRTIO_BLK"
hasnt gce ":0300..$"
ok "--machine gce: q35, virtio-scsi, one virtio-net NIC, no VGA"

# OpenStack with the solo5 preset: virtio-scsi boot disk, virtio NIC, on Nova's pc machine.
boot_pci os --machine openstack
has os "$VIRTIO_SCSI"
count os "$VIRTIO_NET" 1
hasnt os "$VIRTIO_BLK"
hasnt os "$Q35_HOST"
boot_pci osh --machine openstack:hermit
has osh "$VIRTIO_SCSI"
has osh "10ec:8139:020000"
hasnt osh "$VIRTIO_NET"
ok "--machine openstack follows the preset's hw_disk_bus, hw_scsi_model and hw_vif_model"

# Data disks on every bus, in the order given, after the boot disk; two NICs with an MTU.
boot_pci disks --machine q35 --disk data1.raw:virtio-blk --disk data2.qcow2 \
    --disk data3.raw:virtio-scsi --net user --net user --nic-mtu 9000 --smp 2 --cpu qemu64
count disks "$VIRTIO_BLK" 2
count disks "$VIRTIO_SCSI" 1
count disks "$VIRTIO_NET" 2
has disks "$Q35_HOST"
ok "--disk on virtio-blk (the default for data disks) and virtio-scsi, two NICs"

# A NIC on a QEMU socket network over loopback, beside one on user networking.
ports=$(python3 -c 'import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
read -r p1 p2 <<<"$ports"
boot_pci sock --net "socket:udp=127.0.0.1:$p1,localaddr=127.0.0.1:$p2" --net user
count sock "$VIRTIO_NET" 2
ok "--net socket:... and --net user: two virtio-net NICs"

# What QEMU was asked for, from --json (also the MTU and the CPU).
"$MKIMAGE" boot disk.raw --accel tcg --timeout 60 --expect 'MBPROBE: done' --json \
    --machine gce --disk data1.raw:ide --net user --nic-mtu 9000 --cpu qemu64 --smp 2 \
    --qemu-arg=-rtc --qemu-arg=base=utc >boot.json 2>json.err || fail "boot --json: $(cat json.err)"
python3 - boot.json <<'PY' || fail "boot --json: $(cat boot.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["verdict"] == "expected" and r["exit_status"] == 0, r
argv = r["qemu_argv"]
joined = " ".join(argv)
assert "q35" in joined, joined
assert "host_mtu=9000" in joined, joined
assert argv[argv.index("-cpu") + 1] == "qemu64", joined
assert argv[argv.index("-smp") + 1] == "2", joined
assert argv[-2:] == ["-rtc", "base=utc"], joined
assert "serial" in r and "MBPROBE: done" in r["serial"], r
PY
ok "--json reports the verdict and QEMU's command line"

# A datagram to a forwarded host port reaches the probe through virtio-net and comes back.
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MKIMAGE" build -q -o echo.raw --size 64M "$MBPROBE" -- udp-echo
"$MKIMAGE" boot echo.raw --accel tcg --timeout 60 --expect 'MBPROBE: done' --log echo.log \
    --net "user,hostfwd=udp:127.0.0.1:$port-:7" >/dev/null 2>echo.err &
pid=$!
python3 - "$port" <<'PY' >reply.txt || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fail "no UDP answer: $(cat echo.err echo.log)"; }
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
deadline = time.time() + 50
payload = b"unikernel-mkimage says hello"
while time.time() < deadline:
    s.sendto(payload, ("127.0.0.1", int(sys.argv[1])))
    try:
        data, _ = s.recvfrom(2048)
    except socket.timeout:
        continue
    assert data == payload, data
    print(data.decode())
    sys.exit(0)
sys.exit(1)
PY
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "boot with hostfwd exited $rc: $(cat echo.err echo.log)"
grep -q "udp echo 28 bytes from 10.0.2.2:[0-9]* to port 7" echo.log || fail "probe log: $(cat echo.log)"
grep -qF "unikernel-mkimage says hello" reply.txt || fail "reply: $(cat reply.txt)"
ok "--net user,hostfwd=udp:...: a datagram from the host reached the guest's virtio-net NIC and came back"

# A tap interface the user made: in a network namespace of our own, the host side is
# 10.0.2.2 on tap mktap0 and a datagram to the probe's 10.0.2.15 comes back.
if [ -c /dev/net/tun ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
    unshare -n true 2>/dev/null; then
    cat >tap.sh <<'SH'
set -e
ip link set lo up
ip tuntap add dev mktap0 mode tap
ip addr add 10.0.2.2/24 dev mktap0
ip link set mktap0 up
"$MKIMAGE" boot echo.raw --accel tcg --timeout 60 --expect 'MBPROBE: done' --log tap.log \
    --net tap:mktap0 >/dev/null 2>tap.err &
pid=$!
rc=0
python3 - <<'PY' >tap-reply.txt || rc=$?
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
deadline = time.time() + 50
while time.time() < deadline:
    try:
        s.sendto(b"through the tap", ("10.0.2.15", 7))
        data, _ = s.recvfrom(2048)
    except (socket.timeout, OSError):
        time.sleep(0.2)
        continue
    print(data.decode())
    sys.exit(0)
sys.exit(1)
PY
[ "$rc" -eq 0 ] || kill "$pid" 2>/dev/null || true
wait "$pid"
exit "$rc"
SH
    timeout 120 unshare -n bash tap.sh || fail "--net tap: $(cat tap.err tap.log 2>/dev/null)"
    grep -qx "through the tap" tap-reply.txt || fail "tap reply: $(cat tap-reply.txt)"
    grep -q "udp echo 15 bytes from 10.0.2.2:[0-9]* to port 7" tap.log || fail "tap log: $(cat tap.log)"
    ok "--net tap:IFNAME: a datagram through a tap in our own network namespace came back"
else
    echo "note: no /dev/net/tun or no network namespaces here: --net tap not tried"
fi

# Bad values are usage errors naming the option.
for args in "--machine vax" "--net bogus" "--nic-mtu 20" "--disk" "--disk data1.raw:floppy" \
    "--smp 0" "--fail" "--machine openstack:nosuch"; do
    rc=0
    # shellcheck disable=SC2086
    "$MKIMAGE" boot disk.raw $args >out 2>err || rc=$?
    [ "$rc" -eq 2 ] || fail "boot $args: expected exit 2, got $rc: $(cat err)"
    [ "$(wc -l <err)" -eq 1 ] || fail "boot $args: expected one line: $(cat err)"
done
expect_fail "nosuch.raw" "$MKIMAGE" boot disk.raw --disk nosuch.raw --timeout 10
ok "usage errors"
