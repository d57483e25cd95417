#!/usr/bin/env bash
# t6100-plugins: external uploaders (uploaders/PLUGINS.md) written here in shell: found on PATH,
# listed by push --list, given their options on stdin and the artefact on fd 3 or as a path,
# their JSON result, progress and messages read; and every way one can go wrong (an error
# result, garbage, a crash, an early exit, a failed describe) gives a clear one-line error and
# no hang.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
need cmp timeout

mkdir bin store
export PATH=$T/bin:$PATH
# No test may hang: a stuck push is a failure.
push() { timeout 120 "$MKIMAGE" push "$@"; }

# What every test plugin declares (--secret is not: it reaches the plugin all the same).
plugin_options='[{"name": "dir", "arg": "PATH", "help": "the folder"},
    {"name": "use-path", "value": false, "help": "read the file, not fd 3"},
    {"name": "replace", "value": false, "help": "overwrite"},
    {"name": "label", "arg": "K=V", "repeat": true}]'
# plugin NAME BODY: writes bin/unikernel-mkimage-uploader-NAME; BODY runs for `upload`.
plugin() {
    local name=$1 formats=${3:-'["raw"]'}
    {
        echo '#!/bin/sh'
        echo 'case "$1" in'
        echo "describe) printf '%s\\n' '{\"protocol\": 1, \"description\": \"test plugin $name\", \"formats\": $formats, \"options\": $plugin_options}'; exit 0 ;;"
        echo 'upload) ;;'
        echo '*) echo "unknown call $1" >&2; exit 2 ;;'
        echo 'esac'
        printf '%s\n' "$2"
    } >"bin/unikernel-mkimage-uploader-$name"
    chmod +x "bin/unikernel-mkimage-uploader-$name"
}

# The folder store: options dir (required), name, use-path; records what it was given.
plugin folder '
set -eu
dir= name= use_path=
while IFS= read -r line; do
    [ -z "$line" ] && break
    printf "%s\n" "$line" >>"$T/stdin.log"
    key=${line%%=*} value=${line#*=}
    case $key in
    dir) dir=$value ;;
    name) name=$value ;;
    use-path) use_path=$value ;;
    secret|label|replace) ;;
    *) echo "{\"status\": \"error\", \"code\": \"invalid\", \"message\": \"unknown option $key\"}"; exit 1 ;;
    esac
done
echo "$# $*" >"$T/args.log"
env | grep ^UNIKERNEL_MKIMAGE_ | sort >"$T/env.log"
[ -n "$dir" ] || { echo "{\"status\": \"error\", \"message\": \"no dir given\"}"; exit 1; }
name=${name:-$UNIKERNEL_MKIMAGE_SOURCE_NAME}
echo "storing $name" >&2
echo "warning: this is only a folder" >&2
if [ "$use_path" = true ]; then
    exec 3<&-
    cp "$UNIKERNEL_MKIMAGE_ARTEFACT_PATH" "$dir/$name.part"
else
    cat <&3 >"$dir/$name.part"
fi
size=$(stat -c %s "$dir/$name.part")
echo "progress $size $size" >&2
mv "$dir/$name.part" "$dir/$name"
echo "{\"status\": \"ok\", \"image\": \"$name\", \"url\": \"file://$dir/$name\", \"bytes\": $size}"
'
sed -i "s|\$T/|$T/|g" bin/unikernel-mkimage-uploader-folder

"$MKIMAGE" build -q -s 16M -o app.img "$MBPROBE"

# ---- push --list ----
plugin nodescribe 'exit 0'
printf '#!/bin/sh\necho "no such call" >&2\nexit 2\n' >bin/unikernel-mkimage-uploader-nodescribe
push --list >list.out 2>list.err || fail "push --list: $(cat list.err)"
grep -q '^gce ' list.out || fail "push --list lost the built-ins"
grep -qF "folder     test plugin folder [$T/bin/unikernel-mkimage-uploader-folder]" list.out ||
    fail "push --list does not show the plugin: $(cat list.out)"
grep -qF "folder options:" list.out && grep -qxF -- "  --use-path   read the file, not fd 3" list.out &&
    grep -qxF -- "  --dir PATH   the folder" list.out && grep -qxF -- "  --label K=V  (repeatable)" list.out ||
    fail "push --list does not show the plugin's options"
grep -q "^nodescribe .*(describe failed: no such call)" list.out ||
    fail "push --list does not say describe failed: $(grep nodescribe list.out)"
# A plugin hidden by one earlier on PATH, and one named like a built-in, are not listed twice.
mkdir bin2 && cp bin/unikernel-mkimage-uploader-folder bin2/ && cp bin/unikernel-mkimage-uploader-folder bin2/unikernel-mkimage-uploader-gce
PATH=$PATH:$T/bin2 push --list >list2.out
[ "$(grep -c '^folder  ' list2.out)" = 1 ] || fail "folder listed twice"
[ "$(grep -c '^gce  ' list2.out)" = 1 ] || fail "a plugin shadowed the built-in gce"
"$MKIMAGE" help push | grep -A1 "^  plugins    as the plugin does" | grep -q UNIKERNEL_MKIMAGE_SOURCE_ID ||
    fail "help push does not say what resuming means for a plugin"
ok "push --list shows built-ins, plugins with their paths and options, and a failed describe; help push on resuming"

# ---- a file, streamed on fd 3 ----
: >stdin.log
push folder --dir "$T/store" --label a=b --label c=d --secret hunter2 --replace app.img \
    >out 2>err || fail "push folder: $(cat err)"
[ "$(cat out)" = "file://$T/store/app.img" ] || fail "expected the url on stdout, got $(cat out)"
cmp app.img store/app.img || fail "the stored artefact differs"
printf 'dir=%s\nlabel=a=b\nlabel=c=d\nsecret=hunter2\nreplace=true\n' "$T/store" >want.stdin
cmp stdin.log want.stdin || fail "options on stdin: $(cat stdin.log)"
[ "$(cat args.log)" = "1 upload" ] || fail "arguments: $(cat args.log)"
grep -qx "UNIKERNEL_MKIMAGE_UPLOADER_PROTOCOL=1" env.log &&
    grep -qx "UNIKERNEL_MKIMAGE_UPLOADER=folder" env.log &&
    grep -qx "UNIKERNEL_MKIMAGE_FORMAT=raw" env.log &&
    grep -qx "UNIKERNEL_MKIMAGE_ARTEFACT_FD=3" env.log &&
    grep -qx "UNIKERNEL_MKIMAGE_ARTEFACT_SIZE=$(stat -c %s app.img)" env.log &&
    grep -qx "UNIKERNEL_MKIMAGE_ARTEFACT_PATH=$T/app.img" env.log &&
    grep -qx "UNIKERNEL_MKIMAGE_SOURCE_NAME=app.img" env.log ||
    fail "environment: $(cat env.log)"
grep -qF "warning: folder: this is only a folder" err || fail "the plugin's warning was not shown"
! grep -qF "storing app.img" err || fail "an info line was shown without --verbose"
! grep -q "progress " err || fail "a progress line was not parsed: $(cat err)"
ok "a file on fd 3: options on stdin (repeated keys, flags), environment, warnings"

push folder --dir "$T/store" --name v.img --json -v app.img >out.json 2>err ||
    fail "push --json: $(cat err)"
/usr/bin/python3 - out.json "$T" <<'PY' || fail "bad --json result: $(cat out.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r == {"status": "ok", "image": "v.img", "url": "file://%s/store/v.img" % sys.argv[2],
             "bytes": 16777216, "uploader": "folder", "command": "push"}, r
PY
grep -qF "info: folder: storing v.img" err || fail "-v did not show the plugin's messages"
ok "--json passes the result through, -v shows the plugin's stderr"

rm -f store/*
push folder --dir "$T/store" --use-path -q app.img || fail "push --use-path"
cmp app.img store/app.img || fail "the artefact copied from its path differs"
ok "a plugin may take the path and close fd 3"

# ---- a kernel, built and streamed ----
rm -f store/*
"$MKIMAGE" build -q -s 16M -o probe.raw "$MBPROBE"
push folder --dir "$T/store" --name built.raw -s 16M -q "$MBPROBE" || fail "push KERNEL"
cmp probe.raw store/built.raw || fail "the streamed build differs from build -o"
! grep -q UNIKERNEL_MKIMAGE_ARTEFACT_PATH env.log || fail "a path was offered for a stream"
ok "a kernel is built and streamed on fd 3, byte-identical to build -o"

# ---- failures ----
expect_fail "folder: unknown option bogus" push folder --dir "$T/store" --bogus 1 -q app.img
expect_fail "line break" push folder --dir "$(printf 'a\nb')" -q app.img
ok "the plugin judges its options; a line break is refused"

# Without "options" (a plugin written for the free-text "usage" only), every option takes a
# value: its text is shown as it is, and a flag is given as --KEY=true.
cat >bin/unikernel-mkimage-uploader-usageonly <<EOF
#!/bin/sh
[ "\$1" = describe ] && { echo '{"protocol": 1, "usage": "  --mode M   how\\\\n  --fast     go fast\\\\n"}'; exit 0; }
sed '/^\$/q' >"$T/usageonly.stdin"
cat <&3 >/dev/null
echo '{"status": "ok", "image": "u"}'
EOF
chmod +x bin/unikernel-mkimage-uploader-usageonly
push usageonly --mode quick --fast=true -q app.img || fail "push usageonly"
printf 'mode=quick\nfast=true\n\n' | cmp - usageonly.stdin || fail "usage-only options: $(cat usageonly.stdin)"
push --list >list.txt
grep -qxF -- "  --mode M   how" list.txt || fail "push --list lost a plugin's usage text"
plugin badopts 'exit 0'
sed -i 's/"name": "use-path"/"name": "use path"/' bin/unikernel-mkimage-uploader-badopts
expect_fail "option 2 wants a \"name\"" push badopts -q app.img
ok "options declared or not: flags, undeclared keys, usage text, a bad table"

plugin failing 'cat >/dev/null; cat <&3 >/dev/null
echo "{\"status\": \"error\", \"code\": \"auth\", \"message\": \"the server said no\"}"; exit 1'
rc=0; push failing -q app.img 2>err || rc=$?
[ "$rc" = 1 ] || fail "a failing plugin gave exit status $rc"
grep -qx "unikernel-mkimage: error: failing: the server said no" err || fail "error: $(cat err)"
ok "an error result is the error"

plugin garbage 'cat <&3 >/dev/null; echo "Upload OK!"; exit 0'
expect_fail "uploader 'garbage' ($T/bin/unikernel-mkimage-uploader-garbage) printed no valid JSON result: \"Upload OK!\"" \
    push garbage -q app.img
plugin twice 'cat <&3 >/dev/null; echo "{\"status\": \"ok\"} {\"status\": \"ok\"}"'
expect_fail "printed no valid JSON result" push twice -q app.img
plugin nothing 'exit 0'
expect_fail "printed no result (one JSON object on stdout" push nothing -q app.img
plugin badstatus 'cat <&3 >/dev/null; echo "{\"image\": \"x\"}"'
expect_fail "the result's \"status\" is missing" push badstatus -q app.img
ok "garbage, two objects, nothing, no status: clear errors"

plugin quota 'cat <&3 >/dev/null; echo "error: disk quota exceeded" >&2; exit 3'
expect_fail "quota: disk quota exceeded (exit status 3)" push quota -q app.img
plugin crash 'kill -9 $$'
expect_fail "uploader 'crash' ($T/bin/unikernel-mkimage-uploader-crash) was killed by signal 9" \
    push crash -q app.img
ok "a non-zero exit quotes the last stderr line; a crash names the signal"

# Exits at once without reading the stream, claiming success: with a stream and no path, that
# is a cut-short artefact; with a file it must still print a result.
plugin early 'echo "{\"status\": \"ok\", \"image\": \"x\"}"; exit 0'
expect_fail "uploader 'early' ($T/bin/unikernel-mkimage-uploader-early) stopped reading the artefact after at most" \
    push early -s 16M -q "$MBPROBE"
plugin early2 'exec 3<&-; sleep 0.2; exit 0'
expect_fail "printed no result" push early2 -q app.img
plugin earlyfail 'echo "{\"status\": \"error\", \"message\": \"no credentials\"}"; exit 1'
expect_fail "earlyfail: no credentials" push earlyfail -s 16M -q "$MBPROBE"
ok "a plugin that stops reading early: a clear error, no hang, no SIGPIPE"

expect_fail "no executable unikernel-mkimage-uploader-nosuch on PATH" push nosuch app.img
# describe is optional: without it a plugin takes raw.
expect_fail "nodescribe: no such call (exit status 2)" push nodescribe -q app.img
printf '#!/bin/sh\n[ "$1" = upload ] || exit 1\ncat <&3 >"%s/store/min.img"\necho "{\\"status\\": \\"ok\\"}"\n' "$T" \
    >bin/unikernel-mkimage-uploader-minimal
chmod +x bin/unikernel-mkimage-uploader-minimal
push minimal -q app.img || fail "a plugin without describe"
cmp app.img store/min.img || fail "the minimal plugin's copy differs"
plugin badformat 'exit 0' '["vmdk"]'
expect_fail "unknown format 'vmdk'" push badformat -q app.img
plugin oldproto 'exit 0'
sed -i 's/"protocol": 1/"protocol": 7/' bin/unikernel-mkimage-uploader-oldproto
expect_fail "speaks protocol 7" push oldproto -q app.img
ok "an unknown name, a plugin without describe, a bad describe, another protocol version"

# A plugin dies with us: a push killed with -9 while its uploader runs leaves no uploader.
plugin hang "exec sleep 60.$$"
"$MKIMAGE" push hang -q app.img >/dev/null 2>&1 &
pusher=$!
dies_with "$pusher" "^sleep 60.$$\$" "the hanging plugin"
ok "a killed push's plugin dies with it"
