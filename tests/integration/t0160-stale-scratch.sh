# t0160-stale-scratch.sh: scratch files of ours in $TMPDIR (mkimage-core.*, mkimage-boot.*,
# mkimage-deep.*) that a killed run left are removed by the next run that makes one; those of
# a live run (locked by it) are kept.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
need pgrep timeout

mkdir tmp bin
export TMPDIR=$T/tmp
# A grub-mkimage that hangs, so that a build holds its mkimage-core.* while we look.
printf '#!/bin/sh\nexec sleep 60.%s\n' $$ >bin/grub-mkimage
chmod +x bin/grub-mkimage
hanging_build() { # OUT: starts a build that hangs in grub-mkimage; its pid in $builder
    PATH=$T/bin:$PATH "$MKIMAGE" build --size 3M -o "$1" "$MBPROBE" >/dev/null 2>&1 &
    builder=$!
    for _ in $(seq 100); do
        [ "$(pgrep -f "^sleep 60.$$\$" | wc -l)" -ge "$2" ] && return
        sleep 0.1
    done
    fail "the hanging build did not start"
}
cleanup() {
    for p in $(pgrep -f "^sleep 60.$$\$" || true); do kill "$p" 2>/dev/null || true; done
    [ -z "${live:-}" ] || kill -9 "$live" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

hanging_build killed.raw 1
kill -9 "$builder"
wait "$builder" 2>/dev/null || true
stale=$(ls tmp)
[ -n "$stale" ] && [ -f "tmp/$stale" ] && [ "${stale#mkimage-core.}" != "$stale" ] ||
    fail "the killed build left no mkimage-core.* to test with: $(ls -A tmp)"
# A folder left the same way, and files of others that are not ours.
mkdir tmp/mkimage-boot.dead1 && echo x >tmp/mkimage-boot.dead1/disk.raw
echo keep >tmp/mkimage-corefile.other
for _ in $(seq 50); do pgrep -f "^sleep 60.$$\$" >/dev/null || break; sleep 0.1; done

hanging_build live.raw 1
live=$builder
livefile=$(ls tmp | grep '^mkimage-core\.' | grep -vxF "$stale")
[ -n "$livefile" ] || fail "the live build has no mkimage-core.*: $(ls -A tmp)"
"$MKIMAGE" build --size 3M -o done.raw "$MBPROBE" >/dev/null 2>err || fail "build: $(cat err)"
[ ! -e "tmp/$stale" ] || fail "the killed build's $stale is still there"
[ -f "tmp/$livefile" ] || fail "the live build's $livefile was removed"
[ -f tmp/mkimage-corefile.other ] || fail "a file not ours was removed"
ok "a killed build's mkimage-core.* is removed by the next build; a live one's is kept"

# boot's scratch folder: a folder left by a dead run goes, when boot makes one.
"$MKIMAGE" pack done.raw --round-up -o done.tar.gz >/dev/null 2>&1 || fail "pack"
timeout 60 "$MKIMAGE" boot --timeout 1 done.tar.gz >/dev/null 2>&1 || true
[ ! -e tmp/mkimage-boot.dead1 ] || fail "a dead run's mkimage-boot.* folder is still there"
[ -z "$(ls tmp | grep '^mkimage-boot\.')" ] || fail "boot left its folder: $(ls -A tmp)"
ok "a dead run's mkimage-boot.* folder is removed by the next boot of a disk.tar.gz"
kill -9 "$live"
