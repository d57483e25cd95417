# t0500-boot.sh: `boot` runs a built image in QEMU (TCG) and judges it by its serial output
# and isa-debug-exit code; QEMU never outlives the command; bad options are usage errors.
. "$MK_SOURCE_DIR/tests/integration/lib.sh"
need qemu-system-x86_64 qemu-img tar sha256sum pgrep

[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] ||
    fail "the probe kernel is not built (MBPROBE='${MBPROBE:-}')"

"$MKIMAGE" build -o "$T/disk.raw" "$MBPROBE" -- some args >"$T/build.out" 2>&1 ||
    fail "build failed: $(cat "$T/build.out")"
before=$(sha256sum <"$T/disk.raw")

# no_qemu_left NAME: no QEMU runs with NAME in its command line.
no_qemu_left() {
    if pgrep -f -- "$1" >/dev/null; then
        pgrep -af -- "$1" >&2
        fail "a QEMU process for $1 is still running"
    fi
}

# Boots and stops at the expected text; the serial console shows the exact command line.
rc=0
"$MKIMAGE" boot "$T/disk.raw" --expect 'MBPROBE: done' --timeout 60 >"$T/serial" 2>"$T/err" || rc=$?
[ "$rc" -eq 0 ] || fail "boot --expect failed ($rc): $(cat "$T/err") serial: $(cat "$T/serial")"
grep -qxF "MBPROBE: cmdline='some args'"$'\r' "$T/serial" ||
    grep -qxF "MBPROBE: cmdline='some args'" "$T/serial" ||
    fail "no exact cmdline line on serial: $(cat "$T/serial")"
grep -qF "found 'MBPROBE: done' after" "$T/err" || fail "no match report: $(cat "$T/err")"
grep -qE "accel: (tcg|kvm) \(" "$T/err" || fail "no accel line: $(cat "$T/err")"
echo "boot time (time to 'MBPROBE: done'): $(grep -o 'after [0-9.]* s ([a-z]*)' "$T/err")"
no_qemu_left "$T/disk.raw"
ok "boot --expect"

# Without --expect the guest's isa-debug-exit code is reported: 0x31 = 49, QEMU status 99.
rc=0
"$MKIMAGE" boot "$T/disk.raw" --timeout 60 >"$T/serial" 2>"$T/err" || rc=$?
[ "$rc" -eq 0 ] || fail "boot without --expect failed ($rc): $(cat "$T/err")"
grep -qF "guest exited with code 49 (QEMU status 99) after" "$T/err" ||
    fail "guest exit code not reported: $(cat "$T/err")"
grep -qF "MBPROBE: done" "$T/serial" || fail "serial not passed through: $(cat "$T/serial")"
ok "guest exit code"

# A text that never comes: exit 1 with a one-line reason, and QEMU gone.
rc=0
"$MKIMAGE" boot "$T/disk.raw" --expect 'never printed' --timeout 20 >"$T/serial" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "expected exit 1 for a text never printed, got $rc: $(cat "$T/err")"
[ "$(grep -c 'error:' "$T/err")" -eq 1 ] || fail "expected one error line: $(cat "$T/err")"
grep -qF "'never printed'" "$T/err" || fail "the reason does not name the text: $(cat "$T/err")"
no_qemu_left "$T/disk.raw"
ok "expect never printed"

# --log writes the serial output to the file, not to stdout.
"$MKIMAGE" boot "$T/disk.raw" --expect 'MBPROBE: done' --log "$T/serial.log" \
    >"$T/serial" 2>"$T/err" ||
    fail "boot --log failed: $(cat "$T/err")"
grep -qF "MBPROBE: cmdline='some args'" "$T/serial.log" || fail "log lacks the serial output"
! grep -qF "MBPROBE" "$T/serial" || fail "serial output went to stdout despite --log"
ok "--log"

# Every disk bus boots, and every accepted image format.
for bus in ide virtio-blk virtio-scsi; do
    "$MKIMAGE" boot "$T/disk.raw" --disk-bus "$bus" --expect 'MBPROBE: done' --timeout 60 \
        >"$T/serial" 2>"$T/err" || fail "--disk-bus $bus did not boot: $(cat "$T/err")"
done
ok "disk buses"
tar -C "$T" --format=oldgnu -cSzf "$T/disk.tar.gz" disk.raw
"$MKIMAGE" boot "$T/disk.tar.gz" --expect "cmdline='some args'" --timeout 60 \
    >"$T/serial" 2>"$T/err" ||
    fail "disk.tar.gz did not boot: $(cat "$T/err")"
qemu-img convert -f raw -O qcow2 "$T/disk.raw" "$T/disk.qcow2"
"$MKIMAGE" boot "$T/disk.qcow2" --expect "cmdline='some args'" --timeout 60 \
    >"$T/serial" 2>"$T/err" ||
    fail "qcow2 did not boot: $(cat "$T/err")"
ok "tar.gz and qcow2"

# A guest that never ends (a boot sector looping on itself): the timeout stops it...
printf '\xeb\xfe' >"$T/hang.raw"
truncate -s 1M "$T/hang.raw"
printf '\x55\xaa' | dd of="$T/hang.raw" bs=1 seek=510 conv=notrunc status=none
rc=0
"$MKIMAGE" boot "$T/hang.raw" --timeout 3 >"$T/serial" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "expected exit 1 on timeout, got $rc: $(cat "$T/err")"
grep -qF "timed out after" "$T/err" || fail "timeout not reported: $(cat "$T/err")"
no_qemu_left "$T/hang.raw"
ok "timeout"

# ...and so does SIGINT, promptly.
"$MKIMAGE" boot "$T/hang.raw" --expect 'never printed' --timeout 600 >"$T/serial" 2>"$T/err" &
pid=$!
sleep 1
pgrep -f -- "$T/hang.raw" | grep -qv "^$pid\$" || fail "QEMU did not start: $(cat "$T/err")"
interrupt "$pid" boot
[ "$rc" -eq 130 ] || fail "boot exited $rc after SIGINT, not 130"
grep -qF "interrupted" "$T/err" || fail "no interruption message: $(cat "$T/err")"
no_qemu_left "$T/hang.raw"
ok "SIGINT"

# Command-line errors are usage errors (exit 2); a missing image is a one-line error.
for args in "--accel fast" "--disk-bus scsi" "--timeout -1" "--mem lots" "--expect"; do
    rc=0
    # shellcheck disable=SC2086
    "$MKIMAGE" boot "$T/disk.raw" $args >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "boot $args: expected exit 2, got $rc: $(cat "$T/err")"
done
rc=0
"$MKIMAGE" boot >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "boot without an image: expected exit 2, got $rc"
expect_fail "$T/missing.raw" "$MKIMAGE" boot "$T/missing.raw" --expect x
ok "usage errors"

[ "$(sha256sum <"$T/disk.raw")" = "$before" ] || fail "booting modified the image"
ok "image unchanged"
