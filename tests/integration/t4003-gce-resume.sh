# t4003-gce-resume.sh: an upload that failed half-way, or was stopped with Ctrl-C, resumes
# from what the server holds when the same command runs again: one session, the bytes
# already there not sent again, and a state file that holds no token.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl cmp head

start_server
write_key "$T/key.json"
head -c 2200000 /dev/urandom >"$T/rand.bin"
"$MKIMAGE" build -o "$T/big.tar.gz" --file "$T/rand.bin:/rand.bin" "$MBPROBE" >/dev/null 2>&1 ||
    fail "cannot build the test archive"
size=$(stat -c %s "$T/big.tar.gz")

# 1. The server fails every chunk after the fourth: the push gives up, keeping the session.
fault '{"chunk_status": {"count": 1000, "status": 503, "skip": 4}}'
expect_fail "HTTP 503" "$MKIMAGE" push gce $(gce_opts) -q --retries 1 --name big "$T/big.tar.gz"
ls "$XDG_STATE_HOME"/unikernel-mkimage/gcs-*.json >/dev/null 2>&1 || fail "no state file kept"
held=$(state 'list(s["sessions"].values())[0]["persisted"]')
[ "$held" = $((4 * 262144)) ] || fail "the server holds $held bytes"
no_secrets "$XDG_STATE_HOME" "$T/err"
curl -sf -X POST "$BASE/_clear_faults" >/dev/null
before=$(state 's["counters"]["bytes_received"]')
"$MKIMAGE" push gce $(gce_opts) --name big --keep-object "$T/big.tar.gz" >"$T/out" 2>"$T/err" ||
    fail "the second run failed: $(cat "$T/err")"
object_matches "$(object_of big)" "$T/big.tar.gz"
[ "$(state 's["counters"]["initiations"]')" = 1 ] || fail "a new session was started"
sent=$(( $(state 's["counters"]["bytes_received"]') - before ))
[ "$sent" = $((size - 4 * 262144)) ] || fail "the second run sent $sent bytes, not the rest"
ls -A "$XDG_STATE_HOME/unikernel-mkimage" | grep -q . && fail "state file left after success"
ok "resumed after a failed run"

# 2. Ctrl-C during a stalled chunk: exit 130, the session kept and the user told that
#    running the command again resumes; the next run resumes it.
fault '{"chunk_stall": {"count": 1, "skip": 2, "seconds": 30}}'
"$MKIMAGE" push gce $(gce_opts) --name big2 "$T/big.tar.gz" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 100); do
    [ "$(state 's["faults"]')" = "{}" ] && break
    sleep 0.1
done
sleep 0.3
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "Ctrl-C gave exit status $rc: $(cat "$T/err")"
grep -q "interrupted" "$T/err" || fail "no word of the interruption: $(cat "$T/err")"
grep -q "run the same command again to resume" "$T/err" || fail "no word of resuming: $(cat "$T/err")"
ls "$XDG_STATE_HOME"/unikernel-mkimage/gcs-*.json >/dev/null 2>&1 || fail "no state file after Ctrl-C"
"$MKIMAGE" push gce $(gce_opts) --name big2 --keep-object "$T/big.tar.gz" >"$T/out" 2>"$T/err" ||
    fail "the run after Ctrl-C failed: $(cat "$T/err")"
object_matches "$(object_of big2)" "$T/big.tar.gz"
[ "$(state 's["counters"]["initiations"]')" = 2 ] || fail "the interrupted session was not resumed"
[ "$(state 'sorted(s["images"])')" = "['big', 'big2']" ] || fail "images"
no_violations
no_secrets "$XDG_STATE_HOME" "$T/err" "$T/out"
ok "resumed after Ctrl-C"

# 3. --no-resume starts over (and the old session is simply left to expire).
fault '{"chunk_status": {"count": 1000, "status": 503, "skip": 2}}'
expect_fail "HTTP 503" "$MKIMAGE" push gce $(gce_opts) -q --retries 0 --name big3 "$T/big.tar.gz"
curl -sf -X POST "$BASE/_clear_faults" >/dev/null
"$MKIMAGE" push gce $(gce_opts) --no-resume --name big3 "$T/big.tar.gz" >"$T/out" 2>"$T/err" ||
    fail "--no-resume run failed: $(cat "$T/err")"
[ "$(state 's["counters"]["initiations"]')" = 4 ] || fail "--no-resume resumed"
no_violations
ok "--no-resume"
