#!/usr/bin/env bash
# t9000-cli: help and version, exit statuses, man pages and completion from the same help
# texts, and the solo5-virtio-mkimage drop-in.
. "$(dirname "$0")/lib.sh"
: "${MK_BUILD_DIR:?}"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

"$MKIMAGE" --version | grep -qE '^unikernel-mkimage [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$MKIMAGE" --help >help.txt || fail "--help exit status"
cmds=$(awk '/^Commands:/ {on=1; next} on && NF == 0 {on=0} on {print $1}' help.txt)
for c in build inspect boot pack push validate help; do
    grep -qx "$c" <<<"$cmds" || fail "--help does not list '$c'"
done
for c in $cmds; do
    "$MKIMAGE" help "$c" >h1 || fail "help $c"
    "$MKIMAGE" "$c" --help >h2 || fail "$c --help"
    cmp -s h1 h2 || fail "'help $c' and '$c --help' differ"
    grep -q "^usage: unikernel-mkimage $c" h1 || fail "help $c has no usage line"
done
ok "--version, --help, and help for every command: $(echo $cmds)"

rc=0; "$MKIMAGE" frobnicate 2>err || rc=$?
[ "$rc" -eq 2 ] && grep -q "unknown command 'frobnicate'" err || fail "unknown command: $rc $(cat err)"
rc=0; "$MKIMAGE" help frobnicate 2>err || rc=$?
[ "$rc" -eq 2 ] || fail "help of an unknown command: $rc"
rc=0; "$MKIMAGE" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "no command: $rc"
rc=0; "$MKIMAGE" build --no-such-option k 2>err || rc=$?
[ "$rc" -eq 2 ] || fail "unknown option: $rc"
ok "command-line errors exit 2"

# Man pages: one per command, generated from the help texts.
man="$MK_BUILD_DIR/man"
[ -f "$man/unikernel-mkimage.1" ] || fail "no man page"
for c in $cmds; do
    [ -f "$man/unikernel-mkimage-$c.1" ] || fail "no man page for $c"
    grep -q '^\.TH UNIKERNEL-MKIMAGE-' "$man/unikernel-mkimage-$c.1" || fail "man page $c: no .TH"
done
if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww "$man/unikernel-mkimage-build.1" >/dev/null 2>groff.err || fail "groff: $(cat groff.err)"
    [ ! -s groff.err ] || fail "groff warnings: $(cat groff.err)"
fi
ok "man pages for the command and every subcommand"

# Completion reads commands and options from the installed help.
(
    source "$MK_SOURCE_DIR/doc/unikernel-mkimage.bash-completion"
    COMP_WORDS=("$MKIMAGE" bu); COMP_CWORD=1
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "build" ] || fail "completion of 'bu': ${COMPREPLY[*]}"
    COMP_WORDS=("$MKIMAGE" boot --acc); COMP_CWORD=2
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "--accel" ] || fail "completion of 'boot --acc': ${COMPREPLY[*]}"
    COMP_WORDS=("$MKIMAGE" boot --accel ""); COMP_CWORD=3
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "auto kvm tcg" ] || fail "completion of --accel: ${COMPREPLY[*]}"
)
ok "bash completion"

# The solo5-virtio-mkimage drop-in: Solo5's script's arguments, the same kind of image.
solo5="$MK_BUILD_DIR/solo5-virtio-mkimage"
[ -L "$solo5" ] || fail "no solo5-virtio-mkimage link in the build folder"
rc=0; "$solo5" 2>usage.txt || rc=$?
[ "$rc" -eq 1 ] && grep -q "^usage: solo5-virtio-mkimage" usage.txt || fail "solo5 usage: $rc"
"$solo5" -d unikernel.img "$MBPROBE" --ipv4=10.0.0.2/24 "hello world" || fail "solo5 raw"
[ "$(stat -c %s unikernel.img)" -eq $((1024 * 1024 * 1024)) ] || fail "solo5: not 1 GiB"
e2fsck -fn 'unikernel.img?offset=1048576' >/dev/null 2>&1 || fail "solo5: e2fsck"
"$MKIMAGE" boot unikernel.img --accel tcg --timeout 60 --expect "MBPROBE: done" >serial.log 2>/dev/null \
    || fail "solo5 image did not boot: $(cat serial.log)"
name=$(basename "$MBPROBE")
grep -qF "cmdline='$name --ipv4=10.0.0.2/24 \"hello world\"'" serial.log \
    || fail "solo5 cmdline: $(grep cmdline serial.log)"
"$solo5" -f tar unikernel.tar.gz "$MBPROBE" || fail "solo5 tar"
[ "$(tar -tzf unikernel.tar.gz)" = "disk.raw" ] || fail "solo5 tar member: $(tar -tzf unikernel.tar.gz)"
rc=0; "$solo5" -f iso x.img "$MBPROBE" 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "unknown format 'iso'" err || fail "solo5 bad format"
rc=0; "$solo5" x.img missing.virtio 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "missing.virtio" err && [ ! -e x.img ] || fail "solo5 missing kernel"
ok "solo5-virtio-mkimage drop-in: raw (boots with the name first) and tar"
