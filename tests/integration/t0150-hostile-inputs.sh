# t0150-hostile-inputs.sh: inputs that are not what they claim never hang or crash a command
# (issue 13): a FIFO given as an image, kernel, module, file, spec, clouds.yaml or key file is
# refused at once with one line naming it.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
need timeout

mkfifo "$T/fifo"
"$MKIMAGE" build --size 3M -o "$T/disk.raw" "$MBPROBE" >/dev/null 2>&1 || fail "build"
"$MKIMAGE" pack "$T/disk.raw" -o "$T/disk.qcow2" >/dev/null 2>&1 || fail "pack"
export NO_GCE_CHECK=True HOME=$T
n=0
fifo_refused() {  # fifo_refused ARGS...: must fail within 10 s, one line naming the FIFO
    local rc=0
    timeout 10 "$MKIMAGE" "$@" >/dev/null 2>"$T/err" </dev/null || rc=$?
    [ "$rc" != 124 ] || fail "hangs on a FIFO: $*"
    [ "$rc" = 1 ] || fail "exit $rc, not 1: $* -- $(cat "$T/err")"
    grep -qE "'$T/fifo' is (a FIFO, )?not a regular file" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ] ||
        fail "$*: $(cat "$T/err")"
    n=$((n + 1))
}
fifo_refused inspect "$T/fifo"
fifo_refused pack "$T/fifo" -o "$T/out.qcow2"
fifo_refused boot "$T/fifo" --timeout 5
fifo_refused build -o "$T/out.raw" "$T/fifo"
fifo_refused build -o "$T/out.raw" --module "$T/fifo" "$MBPROBE"
fifo_refused build -o "$T/out.raw" --file "$T/fifo:/a" "$MBPROBE"
fifo_refused build --spec "$T/fifo"
fifo_refused validate "$T/fifo"
fifo_refused push gce --credentials "$T/fifo" --project p --bucket b "$T/disk.qcow2"
GOOGLE_APPLICATION_CREDENTIALS=$T/fifo fifo_refused push gce --project p --bucket b "$T/disk.qcow2"
fifo_refused push gce --credentials "$T/fifo" --project p --bucket b "$T/fifo"
OS_CLIENT_CONFIG_FILE=$T/fifo fifo_refused push openstack --os-cloud c "$T/disk.qcow2"
[ ! -e "$T/out.raw" ] && [ ! -e "$T/out.qcow2" ] || fail "an output was written"
ok "$n commands refuse a FIFO at once"
