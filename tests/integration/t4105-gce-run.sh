# t4105-gce-run.sh: `run gce`: the instance boots its image under QEMU on the fake server; its
# console is streamed; --expect passes, a guest that stops ends the wait at once, a timeout,
# Ctrl-C: the instance is deleted in every ending (kept with --keep after a success). Also
# straight from an archive, and `push gce --boot-check` on the same code.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_deploy_env.sh"
need curl qemu-system-x86_64

start_deploy_server --instance-boot qemu
push_image app print=app_is_ready
push_image hang print=booting hang
run() {
    "$MKIMAGE" run gce $(deploy_conn) --zone us-central1-a "$@"
}
no_instances() {
    [ "$(state 's["instances"]')" = "[]" ] || fail "instance left behind ($1): $(state 's["instances"]')"
}

# 1. The text appears: exit 0, the console on stdout, the instance deleted.
run --image app --expect "app is ready" --timeout 60 >"$T/out1" 2>"$T/err1" ||
    fail "run failed: $(cat "$T/err1")"
grep -q "MBPROBE: app is ready" "$T/out1" || fail "console not streamed: $(cat "$T/out1")"
grep -q "instance app-run-[0-9a-f]* printed the expected text after .*; deleted" "$T/err1" ||
    fail "result line: $(cat "$T/err1")"
no_instances "success"
ok "--expect: found, deleted"

# 2. The guest powers off without the text: the wait ends at once, not at the timeout.
start=$(date +%s)
expect_fail "stopped (TERMINATED)" run --image app --expect "never printed" --timeout 120 -q
[ $(($(date +%s) - start)) -lt 60 ] || fail "a stopped instance was waited for until the timeout"
grep -q "its console ends: .*MBPROBE: done" "$T/err" || fail "no console tail: $(cat "$T/err")"
no_instances "stopped"
ok "a stopped instance ends the wait at once"

# 2b. The same with a server whose serial port never moves on ("next" stays where it was):
#     once the guest has stopped, the console is read until it says nothing new (it was
#     read for ever).
fault '{"serial_stuck": {"count": 1000000}}'
start=$(date +%s)
expect_fail "stopped (TERMINATED)" timeout 60 "$MKIMAGE" run gce $(deploy_conn) \
    --zone us-central1-a --image app --expect "never printed" --timeout 120 -q
[ $(($(date +%s) - start)) -lt 60 ] || fail "a stopped instance was waited for until the timeout"
curl -sf -X POST "$BASE/_clear_faults" >/dev/null
no_instances "stuck serial port"
ok "a serial port that never moves on ends the wait once the instance stops"

# 3. A guest that never stops nor prints the text: the timeout. Long enough for QEMU (TCG)
# to boot the guest to its first line on a loaded machine (3 s was not, under CI's -j2).
expect_fail "did not appear on" run --image hang --expect "never printed" --timeout 15 -q
grep -q "it ends: .*booting" "$T/err" || fail "no console tail: $(cat "$T/err")"
no_instances "timeout"
ok "timeout"

# 4. Ctrl-C while waiting.
# Not through the function: $! must be the command itself, which gets the SIGINT.
"$MKIMAGE" run gce $(deploy_conn) --zone us-central1-a --image hang --expect "never printed" \
    --timeout 120 >"$T/out4" 2>"$T/err4" &
pid=$!
for _ in $(seq 200); do
    grep -q booting "$T/out4" 2>/dev/null && break
    sleep 0.1
done
grep -q booting "$T/out4" || fail "the console did not start: $(cat "$T/err4")"
[ "$(state 'len(s["instances"])')" = 1 ] || fail "no instance while running"
start=$(date +%s)
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "Ctrl-C gave exit $rc: $(cat "$T/err4")"
[ $(($(date +%s) - start)) -lt 20 ] || fail "Ctrl-C was not acted on at once"
grep -q "canceled\|cancelled\|interrupted" "$T/err4" || fail "Ctrl-C message: $(cat "$T/err4")"
no_instances "Ctrl-C"
ok "Ctrl-C deletes the instance"

# 5. --keep after a success; --json.
run --image app --expect "app is ready" --keep --name kept-one --json >"$T/out5" 2>"$T/err5" ||
    fail "run --keep failed: $(cat "$T/err5")"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["instance"] == "kept-one" and r["matched"] and not r["deleted"] and r["image"] == "app", r' \
    "$T/out5" || fail "--json: $(cat "$T/out5")"
[ "$(state 's["instances"]')" = "['us-central1-a/kept-one']" ] || fail "--keep: $(state 's["instances"]')"
ok "--keep"

# 6. From an archive: pushed, then run.
"$MKIMAGE" build -o "$T/arch.tar.gz" "$MBPROBE" -- print=from_archive >/dev/null 2>&1 || fail "build"
run $(gce_opts) --name from-arch --expect "from archive" --timeout 60 "$T/arch.tar.gz" \
    >"$T/out6" 2>"$T/err6" || fail "run ARCHIVE failed: $(cat "$T/err6")"
[ "$(state "[i['status'] for n, i in s['images'].items() if n not in ('app', 'hang')]")" = "['READY']" ] ||
    fail "the archive was not pushed: $(state "list(s['images'])")"
[ "$(state 's["instances"]')" = "['us-central1-a/kept-one']" ] || fail "instance left: $(state 's["instances"]')"
ok "run ARCHIVE"

# 7. push --boot-check: a guest that stops ends the check at once, with its console's end.
start=$(date +%s)
expect_fail "stopped (TERMINATED)" "$MKIMAGE" push gce $(gce_opts) -q --name checked \
    --boot-check "never printed" --zone us-central1-a --boot-timeout 120 "$T/arch.tar.gz"
[ $(($(date +%s) - start)) -lt 60 ] || fail "--boot-check waited for its timeout"
grep -q "console ends: .*MBPROBE: done" "$T/err" || fail "no console tail: $(cat "$T/err")"
[ "$(state 's["instances"]')" = "['us-central1-a/kept-one']" ] || fail "boot-check instance left"
ok "push --boot-check ends when the instance stops"

# 8. push --boot-check -v: names the instance when it is made and streams its console.
"$MKIMAGE" push gce $(gce_opts) -v --name checked-v --boot-check "MBPROBE: done" \
    --zone us-central1-a --boot-timeout 60 "$T/arch.tar.gz" >"$T/out8" 2>"$T/err8" ||
    fail "push --boot-check -v failed: $(cat "$T/err8")"
grep -q "instance checked-v-check-[0-9a-f]* created in us-central1-a" "$T/err8" ||
    fail "the instance is not named: $(cat "$T/err8")"
grep -q "console: MBPROBE: from archive" "$T/err8" || fail "the console is not streamed: $(cat "$T/err8")"
ok "push --boot-check -v streams the console"

# 9. kill -9 while the boot check runs: the instance is left running; the same push run again
#    deletes it first, then checks (and passes).
"$MKIMAGE" build -o "$T/hang.tar.gz" "$MBPROBE" -- print=still_booting hang >/dev/null 2>&1 || fail "build"
left_before=$(state 'sorted(s["instances"])')
"$MKIMAGE" push gce $(gce_opts) -q --name killed --boot-check "never printed" \
    --zone us-central1-a --boot-timeout 120 "$T/hang.tar.gz" >"$T/out9" 2>"$T/err9" &
pid=$!
for _ in $(seq 300); do
    [ "$(state 'len([i for i in s["instances"] if "killed-check-" in i])')" = 1 ] && break
    sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
orphan=$(state '[i for i in s["instances"] if "killed-check-" in i]')
[ "$orphan" != "[]" ] || fail "no boot-check instance was running when killed: $(cat "$T/err9")"
"$MKIMAGE" push gce $(gce_opts) --name killed --boot-check "still booting" \
    --zone us-central1-a --boot-timeout 60 "$T/hang.tar.gz" >"$T/out10" 2>"$T/err10" ||
    fail "the re-run failed: $(cat "$T/err10")"
grep -q "deleting instance killed-check-[0-9a-f]*, left running by an earlier run" "$T/err10" ||
    fail "the re-run did not say it deleted the leftover: $(cat "$T/err10")"
[ "$(state 'sorted(s["instances"])')" = "$left_before" ] ||
    fail "instances after the re-run: $(state 's["instances"]') (was $left_before, orphan $orphan)"
ok "a re-run after kill -9 deletes the boot-check instance first"
no_deploy_violations
