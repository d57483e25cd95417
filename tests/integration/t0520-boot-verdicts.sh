#!/usr/bin/env bash
# t0520-boot-verdicts: `boot` judges a unikernel the way it ends. Solo5's own last lines give
# the guest's real exit code (its port-0x501 write and power-off say nothing); --fail ends
# at once; a guest that powers off without the expected text ends the wait at once; GRUB's
# error screens are recognised within seconds and reported in one line; a Solo5 manifest is
# read from the kernel and a machine that will make Solo5 abort is named before it boots.
. "$(dirname "$0")/lib.sh"
need qemu-system-x86_64 python3 objcopy
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

# run_boot IMAGE ARGS...: boots with TCG; sets $rc and $secs (wall time); stderr in err.
run_boot() {
    local image=$1 start end
    shift
    rc=0
    start=$(date +%s.%N)
    "$MKIMAGE" boot "$image" --accel tcg "$@" >serial 2>err || rc=$?
    end=$(date +%s.%N)
    secs=$(python3 -c "print(round($end - $start, 1))")
}
fast() { python3 -c "import sys; sys.exit(0 if $secs < $1 else 1)" || fail "$2 took $secs s"; }

# The probe speaks Solo5's words when asked: built with the solo5 template, boot reads them.
"$MKIMAGE" build -q -o ok.raw --size 64M --template solo5 "$MBPROBE" -- solo5-exit=0
"$MKIMAGE" build -q -o fail.raw --size 64M --template solo5 "$MBPROBE" -- solo5-exit=3
"$MKIMAGE" build -q -o abort.raw --size 64M --template solo5 "$MBPROBE" -- solo5-abort

run_boot ok.raw --timeout 60
[ "$rc" -eq 0 ] || fail "solo5_exit(0): expected exit 0, got $rc: $(cat err)"
grep -qF "Solo5 unikernel exited with code 0" err || fail "solo5_exit(0) report: $(cat err)"
run_boot fail.raw --timeout 60
[ "$rc" -eq 1 ] || fail "solo5_exit(3): expected exit 1, got $rc: $(cat err)"
grep -qF "Solo5 unikernel exited with code 3" err || fail "solo5_exit(3) report: $(cat err)"
[ "$(grep -c 'error:' err)" -eq 1 ] || fail "solo5_exit(3): expected one error line: $(cat err)"
run_boot abort.raw --timeout 60
[ "$rc" -eq 1 ] || fail "solo5_abort(): expected exit 1, got $rc: $(cat err)"
grep -qF "Solo5 unikernel aborted (code 255): Solo5: solo5_abort() called" err ||
    fail "abort report: $(cat err)"
ok "Solo5 verdicts: exit 0 is success, exit 3 and abort are failures with their code"

# --expect in a Solo5 guest that then aborts: the text counts; with a text that never comes,
# the abort ends the wait at once.
run_boot abort.raw --timeout 60 --expect ABORT
[ "$rc" -eq 0 ] || fail "--expect ABORT: $(cat err)"
run_boot abort.raw --timeout 60 --expect 'never printed'
[ "$rc" -eq 1 ] || fail "abort without the text: expected 1, got $rc: $(cat err)"
grep -qF "aborted" err || fail "abort without the text: $(cat err)"
fast 30 "an aborting guest"
ok "Solo5 end lines end the wait"

# --fail TEXT ends the boot at once, though the guest would run until the timeout.
"$MKIMAGE" build -q -o panic.raw --size 64M "$MBPROBE" -- print=PANIC:_disk_on_fire hang
run_boot panic.raw --timeout 120 --expect 'MBPROBE: done' --fail PANIC --fail OOPS
[ "$rc" -eq 1 ] || fail "--fail: expected exit 1, got $rc: $(cat err)"
grep -qF "found 'PANIC' (--fail)" err || fail "--fail report: $(cat err)"
[ "$(grep -c 'error:' err)" -eq 1 ] || fail "--fail: expected one error line: $(cat err)"
fast 30 "--fail"
ok "--fail ends the boot at once ($secs s)"

# A guest that powers off without the expected text: the wait ends at once.
"$MKIMAGE" build -q -o off.raw --size 64M "$MBPROBE" -- poweroff
run_boot off.raw --timeout 120 --expect 'never printed'
[ "$rc" -eq 1 ] || fail "power-off: expected exit 1, got $rc: $(cat err)"
grep -qF "powered off without printing 'never printed'" err || fail "power-off report: $(cat err)"
fast 30 "a guest that powered off"
ok "a guest that powers off ends the wait ($secs s)"

# GRUB's error screens: a kernel that is missing, a file that is not a multiboot kernel.
printf 'serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\nset timeout=0\nmenuentry x {\n\tmultiboot /boot/nosuch\n\tboot\n}\n' >missing.cfg
"$MKIMAGE" build -q -o missing.raw --size 64M --template "$T/missing.cfg" "$MBPROBE"
run_boot missing.raw --timeout 120 --expect 'MBPROBE: done'
[ "$rc" -eq 1 ] || fail "kernel missing: expected exit 1, got $rc: $(cat err)"
grep -qF "GRUB could not boot the image: error: file \`/boot/nosuch' not found" err ||
    fail "kernel missing report: $(cat err)"
[ "$(grep -c 'error:' err)" -eq 1 ] || fail "kernel missing: expected one error line: $(cat err)"
fast 30 "a GRUB error"
ok "GRUB error (kernel missing) judged in $secs s"
head -c 20000 /dev/urandom >notmb.bin
printf 'serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\nset timeout=0\nmenuentry x {\n\tmultiboot /boot/notmb.bin\n\tboot\n}\n' >notmb.cfg
"$MKIMAGE" build -q -o notmb.raw --size 64M --template "$T/notmb.cfg" --file notmb.bin:/boot/notmb.bin "$MBPROBE"
run_boot notmb.raw --timeout 120
[ "$rc" -eq 1 ] || fail "not multiboot: expected exit 1, got $rc: $(cat err)"
grep -qF "GRUB could not boot the image: error: no multiboot header found" err ||
    fail "not multiboot report: $(cat err)"
fast 30 "a GRUB error"
ok "GRUB error (no multiboot header) judged in $secs s"

# A kernel that prints GRUB's words once GRUB has handed over to it is judged by how it
# ends: our grub.cfg echoes a line right before `boot`, after which GRUB's screens are not
# read. (A grub.cfg without that line is judged as before.)
"$MKIMAGE" build -q -o says.raw --size 64M "$MBPROBE" -- print=Press_any_key_to_continue
run_boot says.raw --timeout 60
[ "$rc" -eq 0 ] || fail "a kernel printing 'Press any key to continue': expected 0, got $rc: $(cat err)"
"$MKIMAGE" build -q -o says2.raw --size 64M "$MBPROBE" -- print=error:_no_multiboot_header_found
run_boot says2.raw --timeout 60
[ "$rc" -eq 0 ] || fail "a kernel printing a GRUB error: expected 0, got $rc: $(cat err)"
"$MKIMAGE" build -q -o says5.raw --size 64M --template solo5 "$MBPROBE" -- \
    print=Press_any_key_to_continue solo5-exit=4
run_boot says5.raw --timeout 60
[ "$rc" -eq 1 ] && grep -qF "Solo5 unikernel exited with code 4" err ||
    fail "a Solo5 kernel printing GRUB's words: $(cat err)"
ok "a kernel printing GRUB's error words is judged by its real end"

# A kernel with a Solo5 manifest (the probe as a 64-bit ELF file with the note Solo5's
# elftool makes): build and inspect show its devices, boot takes it as Solo5 and warns
# about a machine that will make it abort.
python3 "$MK_SOURCE_DIR/tests/integration/solo5_note.py" none.note
objcopy -O elf64-x86-64 --add-section .note.solo5.manifest=none.note "$MBPROBE" hello.elf 2>/dev/null
python3 "$MK_SOURCE_DIR/tests/integration/solo5_note.py" net.note net:service
objcopy -O elf64-x86-64 --add-section .note.solo5.manifest=net.note "$MBPROBE" net.elf 2>/dev/null
"$MKIMAGE" build -o hello.raw --size 64M hello.elf -- solo5-exit=0 2>build.err ||
    fail "build of a Solo5 kernel: $(cat build.err)"
grep -qF "Solo5 manifest: no devices" build.err || fail "build does not show the manifest: $(cat build.err)"
grep -qF "on GCE" build.err || fail "build does not warn about GCE: $(cat build.err)"
"$MKIMAGE" build -o net.raw --size 64M net.elf -- solo5-exit=0 2>build2.err ||
    fail "build of a Solo5 kernel: $(cat build2.err)"
grep -qF "Solo5 manifest: NET_BASIC 'service'" build2.err || fail "build: $(cat build2.err)"
! grep -qF "on GCE" build2.err || fail "build warns about GCE for a unikernel with a NIC: $(cat build2.err)"
"$MKIMAGE" inspect --json net.raw >inspect.json || fail "inspect: $(cat inspect.json)"
python3 - inspect.json <<'PY' || fail "inspect --json: $(cat inspect.json)"
import json, sys
k = json.load(open(sys.argv[1]))["kernel"]
assert k["solo5_manifest"]["devices"] == [{"name": "service", "type": "NET_BASIC"}], k
PY
"$MKIMAGE" inspect net.raw | grep -qF "NET_BASIC 'service'" || fail "inspect text lacks the manifest"
ok "build and inspect show the manifest's devices"

# (The probe itself does not abort; a real Solo5 unikernel would.)
run_boot hello.raw --timeout 60 --machine gce
grep -qF "warning: the machine has 1 virtio-net NIC and the unikernel declares no network device: Solo5 aborts at start" err ||
    fail "no warning for gce: $(cat err)"
run_boot hello.raw --timeout 60 --disk-bus virtio-blk
grep -qF "warning: the boot disk is virtio-blk and the unikernel declares no block device" err ||
    fail "no warning for a virtio-blk boot disk: $(cat err)"
run_boot net.raw --timeout 60 --machine gce
[ "$rc" -eq 0 ] || fail "net unikernel on gce: $(cat err)"
! grep -qF "warning:" err || fail "unexpected warning: $(cat err)"
grep -qF "Solo5 unikernel exited with code 0" err || fail "manifest did not make boot read Solo5's words: $(cat err)"
ok "boot warns before booting a Solo5 unikernel on a machine it will refuse"
