# t4001-gce-faults.sh: the GCS upload survives what networks and servers do: 503/500/429
# answers, connections dropped mid-chunk, a 308 with a shorter Range than sent, a stalled
# transfer, a token that expires mid-upload and a failing token endpoint. It never restarts
# the session, and the object still arrives byte-identical.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl cmp head

start_server
write_key "$T/key.json"
# About 2.3 MB of incompressible data: ten 256 KiB chunks.
head -c 2200000 /dev/urandom >"$T/rand.bin"
"$MKIMAGE" build -o "$T/big.tar.gz" --file "$T/rand.bin:/rand.bin" "$MBPROBE" >/dev/null 2>&1 ||
    fail "cannot build the test archive"

fault '{"token_status": {"count": 1, "status": 500},
        "chunk_status": {"count": 3, "status": 503, "skip": 1},
        "chunk_drop": {"count": 2, "skip": 2},
        "short_range": {"count": 2, "skip": 3},
        "expire_tokens": {"count": 1, "skip": 6},
        "chunk_stall": {"count": 1, "skip": 7, "seconds": 3}}'
"$MKIMAGE" push gce $(gce_opts) --stall-timeout 1 --name big --keep-object "$T/big.tar.gz" \
    >"$T/out" 2>"$T/err" || fail "push failed: $(cat "$T/err")"
object_matches "$(object_of big)" "$T/big.tar.gz"
[ "$(state 's["faults"]')" = "{}" ] || fail "not every fault was hit: $(state 's["faults"]')"
[ "$(state 's["counters"]["initiations"]')" = 1 ] || fail "the upload was restarted"
[ "$(state 's["counters"]["unauthorized"] >= 1')" = True ] || fail "no 401 seen"
[ "$(state 's["counters"]["token_requests"] >= 3')" = True ] || fail "the token was not refreshed"
[ "$(state 's["counters"]["status_queries"] >= 5')" = True ] || fail "no status queries after failures"
[ "$(state 'len(s["images"])')" = 1 ] || fail "expected one image"
no_violations
no_secrets "$T/out" "$T/err" "$XDG_STATE_HOME"
ok "upload through faults"

# A 429 on every chunk: it gives up after --retries, with one line, and keeps the session.
fault '{"chunk_status": {"count": 1000, "status": 429}}'
expect_fail "HTTP 429" "$MKIMAGE" push gce $(gce_opts) -q --retries 2 --name big2 "$T/big.tar.gz"
[ "$(state 'len(s["images"])')" = 1 ] || fail "an image was made from a failed upload"
no_violations
ok "gives up after --retries"
