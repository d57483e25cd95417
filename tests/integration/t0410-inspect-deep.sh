#!/usr/bin/env bash
# t0410-inspect-deep: `inspect --deep` agrees with libguestfs (Linux reading the disk in its
# appliance): partitions, filesystem, and grub.cfg, kernel and modules byte-identical.
# Skipped when the build has no libguestfs. Slow: the appliance boots under TCG here.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built (MBPROBE='${MBPROBE:-}')"

# An empty image: nothing for the appliance to look at, so this only asks whether --deep
# was built.
: >probe.raw
rc=0
"$MKIMAGE" inspect --deep probe.raw >out 2>err || rc=$?
if grep -q "this build has none" err; then
    skip "built without libguestfs"
fi

# libguestfs is opened only for --deep: a missing library, or one lacking a symbol we use,
# is one clear line and exit 1, not a crash or a failure to start the command.
want="inspect --deep needs libguestfs: install the Debian package libguestfs0"
want="$want (and libguestfs-tools for its appliance)"
for lib in libmkimage-no-such-guestfs.so.0 libz.so.1; do
    rc=0
    MK_GUESTFS_LIBRARY=$lib "$MKIMAGE" inspect --deep probe.raw >out 2>err || rc=$?
    [ "$rc" -eq 1 ] || fail "MK_GUESTFS_LIBRARY=$lib: exit $rc, want 1: $(cat err)"
    [ "$(wc -l <err)" -eq 1 ] && grep -qF "$want" err ||
        fail "MK_GUESTFS_LIBRARY=$lib: want one line naming libguestfs0, got: $(cat err)"
    grep -qF "$lib" err || fail "MK_GUESTFS_LIBRARY=$lib: the error does not name it: $(cat err)"
    [ ! -s out ] || fail "MK_GUESTFS_LIBRARY=$lib: printed a report: $(cat out)"
done
ok "without a usable libguestfs, --deep fails with one line naming the package"

head -c 70000 /dev/urandom >mod1.bin
printf 'module two\n' >mod2.txt
"$MKIMAGE" build -q -o disk.raw --size 64M --module mod1.bin:first --module mod2.txt \
    "$MBPROBE" -- a b || fail "build failed"
rc=0
# Its stderr on a terminal (script's pty; the JSON still goes to a file): the appliance's
# launch, one blocking call, shows as a step with its elapsed time. Under strace (our
# process only, not the reader it starts nor the appliance): with --deep too, the image is
# read in the isolated reader, and our process never reads its bytes (issue 13).
need strace
without_leak_check script -qefc "nice strace -qq -o '$T/main.log' -P '$T/disk.raw' \
    '$MKIMAGE' inspect --deep --json '$T/disk.raw' >report.json" err >/dev/null || rc=$?
[ "$rc" -eq 0 ] || fail "inspect --deep exited $rc: $(cat report.json err)"
grep -q 'starting the libguestfs appliance\.\.\. [0-9]* s' err ||
    fail "no progress shown while the appliance started: $(cat -v err)"
"$PY" "$MK_SOURCE_DIR/tests/integration/isolation_trace.py" main "$T/main.log" "$T/disk.raw" \
    >out || fail "inspect --deep: $(cat out)"
"$PY" - "$(basename "$MBPROBE")" <<'PY' || fail "deep report: $(cat report.json)"
import json, sys
r = json.load(open("report.json"))
kernel = "/boot/" + sys.argv[1]
d = r["deep"]
assert r["problems"] == [], r["problems"]
assert d["partition_table"] == "msdos", d
assert [(p["index"], p["start_lba"], p["sectors"], p["bootable"]) for p in d["partitions"]] == \
    [(p["index"], p["start_lba"], p["sectors"], p["bootable"]) for p in r["partitions"]], d
fs = d["filesystem"]
assert fs["device"] == "/dev/sda1" and fs["type"] == r["filesystem"]["type"], fs
assert fs["uuid"] == r["filesystem"]["uuid"], fs
same = set(d["files_identical"])
want = {"/boot/grub/grub.cfg", kernel, "/boot/mod1.bin", "/boot/mod2.txt"}
assert want <= same, (want, same)
PY
ok "libguestfs sees the same partition and filesystem, and reads the same boot files"
ok "--deep: the image read in the isolated reader; $(cat out)"
