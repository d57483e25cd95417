# t4021-gce-interrupt.sh: every interruption after images.insert resumes. kill -9, Ctrl-C
# and --timeout while GCE creates the image leave the staged object in place (GCE is reading
# it); the same command run again recognises its own image (by the source hash in a label),
# waits for it, removes the object and exits 0 without uploading again. Two pushes of one
# name at once stage different objects, and the loser removes only its own.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl

start_server
write_key "$T/key.json"
make_archive "$T/app.tar.gz"
"$MKIMAGE" build -o "$T/app2.tar.gz" "$MBPROBE" -- second >/dev/null 2>&1 || fail "build app2"

# wait_for PYTHON-EXPR: until the server's state makes EXPR true (10 s at most).
wait_for() {
    for _ in $(seq 200); do
        [ "$(state "$1")" = True ] && return 0
        sleep 0.05
    done
    fail "timed out waiting for: $1"
}

# interrupt SIGNAL NAME: starts a push whose image takes a while, sends SIGNAL once
# images.insert was sent; prints the exit status.
interrupt() {
    local sig=$1 name=$2 inserts pid rc=0
    inserts=$(state 's["counters"]["image_inserts"]')
    fault '{"image_polls": {"count": 1, "polls": 25}}'
    "$MKIMAGE" push gce $(gce_opts) --name "$name" "$T/app.tar.gz" -v >"$T/out" 2>"$T/err" &
    pid=$!
    wait_for "s['counters']['image_inserts'] > $inserts"
    sleep 0.1
    kill -"$sig" "$pid"
    wait "$pid" || rc=$?
    echo "$rc"
}

# finish NAME: the same command again must finish the push without a new upload.
finish() {
    local name=$1 inits inserts
    inits=$(state 's["counters"]["initiations"]')
    inserts=$(state 's["counters"]["image_inserts"]')
    "$MKIMAGE" push gce $(gce_opts) --name "$name" "$T/app.tar.gz" >"$T/out" 2>"$T/err" ||
        fail "the re-run of $name failed: $(cat "$T/err")"
    [ "$(state "s['images']['$name']['status']")" = READY ] || fail "$name is not READY"
    [ "$(state 's["counters"]["initiations"]')" = "$inits" ] || fail "the re-run uploaded again"
    [ "$(state 's["counters"]["image_inserts"]')" = "$inserts" ] || fail "the re-run inserted again"
    [ "$(state 's["objects"]')" = "{}" ] || fail "the staged object was left: $(state 's["objects"]')"
    ls -A "$XDG_STATE_HOME/unikernel-mkimage" 2>/dev/null | grep -q . &&
        fail "state left after the push finished: $(ls -A "$XDG_STATE_HOME/unikernel-mkimage")"
    grep -q "$name" "$T/out" || fail "no selfLink printed: $(cat "$T/out")"
}

# 1. kill -9 right after images.insert.
rc=$(interrupt KILL killed)
[ "$rc" = 137 ] || fail "kill -9 gave $rc"
[ "$(state 'len(s["objects"])')" = 1 ] || fail "the staged object is gone while GCE reads it"
finish killed
ok "kill -9 after images.insert, then the same command finishes the push"

# 2. Ctrl-C at the same point: exit 130, the object kept while the operation runs.
rc=$(interrupt INT stopped)
[ "$rc" = 130 ] || fail "Ctrl-C gave $rc: $(cat "$T/err")"
grep -q "interrupted" "$T/err" || fail "no word of the interruption: $(cat "$T/err")"
[ "$(state 'len(s["objects"])')" = 1 ] || fail "Ctrl-C deleted the object GCE is reading"
finish stopped
ok "Ctrl-C after images.insert, then the same command finishes the push"

# 3. --timeout while the image is created: the object is not deleted under GCE's feet.
fault '{"image_polls": {"count": 1, "polls": 30}}'
expect_fail "run the same command again" "$MKIMAGE" push gce $(gce_opts) -q --name slow \
    --timeout 0.5 "$T/app.tar.gz"
[ "$(state 'len(s["objects"])')" = 1 ] || fail "--timeout deleted the object GCE is reading"
finish slow
ok "--timeout keeps the object while GCE reads it; the re-run finishes"

# 4. An image of that name that is not ours is still refused.
expect_fail "already exists" "$MKIMAGE" push gce $(gce_opts) -q --name killed "$T/app2.tar.gz"
ok "someone else's image is not taken for ours"

# 5. Two pushes of one name at once: one wins, the other fails saying so, and neither
#    touches the other's staged object (the server checks the winner's is read intact).
fault '{"image_polls": {"count": 1, "polls": 30}}'
"$MKIMAGE" push gce $(gce_opts) --name dup "$T/app.tar.gz" >"$T/out1" 2>"$T/err1" &
p1=$!
"$MKIMAGE" push gce $(gce_opts) --name dup "$T/app2.tar.gz" >"$T/out2" 2>"$T/err2" &
p2=$!
rc1=0 rc2=0
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
[ $((rc1 == 0 ? 1 : 0)) -ne $((rc2 == 0 ? 1 : 0)) ] ||
    fail "expected exactly one winner: $rc1 $rc2: $(cat "$T/err1" "$T/err2")"
cat "$T/err1" "$T/err2" | grep -q "already exists" || fail "the loser did not say why: $(cat "$T/err1" "$T/err2")"
[ "$(state 's["images"]["dup"]["status"]')" = READY ] || fail "dup is not READY"
[ "$(state 's["objects"]')" = "{}" ] || fail "objects left: $(state 's["objects"]')"
no_violations
no_secrets "$T/out" "$T/err" "$T/err1" "$T/err2" "$XDG_STATE_HOME"
ok "concurrent pushes of one name"
