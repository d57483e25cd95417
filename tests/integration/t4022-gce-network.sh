# t4022-gce-network.sh: what a careful client owes the servers and the user. A strict server
# that persisted an offset off the 256 KiB grid gets chunks that end on the grid again;
# Retry-After is honoured by uploads, API calls and token requests; a token endpoint that
# takes the connection and never answers fails the push within a short bound, naming it;
# a wrong project or storage location is refused before any upload; and files that are no
# disk are refused before the first network request.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl cmp head

start_server
write_key "$T/key.json"
head -c 1500000 /dev/urandom >"$T/rand.bin"
"$MKIMAGE" build -o "$T/big.tar.gz" --file "$T/rand.bin:/rand.bin" "$MBPROBE" >/dev/null 2>&1 ||
    fail "cannot build the test archive"

# 1. Unaligned persisted offsets: a 308 whose Range ends off the grid, and a dropped chunk
#    of which the server kept exactly what arrived. The strict server refuses (and records)
#    any non-final chunk that does not end on a 256 KiB boundary.
fault '{"unaligned_persist": {"count": 1, "skip": 1, "bytes": 100000},
        "chunk_drop": {"count": 1, "skip": 3, "exact": true, "extra": 5000}}'
"$MKIMAGE" push gce $(gce_opts) --name unaligned --keep-object --json "$T/big.tar.gz" \
    >"$T/out.json" 2>"$T/err" || fail "push failed: $(cat "$T/err")"
[ "$(state 's["faults"]')" = "{}" ] || fail "not every fault was hit: $(state 's["faults"]')"
obj=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["object"].split("/", 3)[3])' "$T/out.json")
object_matches "$obj" "$T/big.tar.gz"
no_violations
ok "realigned to the server's persisted offset"

# 2. Retry-After on a chunk, on images.insert and on the token endpoint: the server records
#    any retry that comes sooner than it asked.
fault '{"retry_after": {"count": 1, "path": "/upload/", "status": 503, "seconds": 1}}'
"$MKIMAGE" push gce $(gce_opts) --name ra1 -q "$T/big.tar.gz" 2>"$T/err" ||
    fail "push failed: $(cat "$T/err")"
fault '{"retry_after": {"count": 1, "path": "/compute/v1/projects/test-proj/global/images", "status": 429, "seconds": 1}}'
"$MKIMAGE" push gce $(gce_opts) --name ra2 -q "$T/big.tar.gz" 2>"$T/err" ||
    fail "push failed: $(cat "$T/err")"
fault '{"retry_after": {"count": 1, "path": "/token", "status": 503, "seconds": 1}}'
"$MKIMAGE" push gce $(gce_opts) --name ra3 -q "$T/big.tar.gz" 2>"$T/err" ||
    fail "push failed: $(cat "$T/err")"
[ "$(state 's["counters"]["retry_after_sent"]')" = 3 ] || fail "not every Retry-After was sent"
no_violations
ok "Retry-After honoured"

# 3. A token endpoint that takes the request and never answers: a bounded failure that
#    names the endpoint, long before the server gives up (600 s).
fault '{"token_hang": {"count": 1000, "seconds": 600}}'
start=$(date +%s)
expect_fail "$BASE/token" "$MKIMAGE" push gce $(gce_opts) --name hang "$T/big.tar.gz"
took=$(($(date +%s) - start))
grep -q "did not answer" "$T/err" || fail "the error does not say it did not answer: $(cat "$T/err")"
[ "$took" -le 40 ] || fail "a hanging token endpoint took $took s to fail"
curl -sf -X POST "$BASE/_clear_faults" >/dev/null
ok "a hanging token endpoint fails in $took s"

# 4. A wrong project and an invalid storage location are refused before any upload; a
#    valid location works.
inits=$(state 's["counters"]["initiations"]')
expect_fail "project 'no-such-proj'" "$MKIMAGE" push gce $(gce_opts) --project no-such-proj \
    --name wrongproj "$T/big.tar.gz"
expect_fail "--storage-location 'mars-north1'" "$MKIMAGE" push gce $(gce_opts) \
    --storage-location mars-north1 --name badloc "$T/big.tar.gz"
expect_fail "--storage-location 'Not A Place'" "$MKIMAGE" push gce $(gce_opts) \
    --storage-location "Not A Place" --name badloc "$T/big.tar.gz"
[ "$(state 's["counters"]["initiations"]')" = "$inits" ] || fail "an upload started"
"$MKIMAGE" push gce $(gce_opts) --storage-location europe-west4 --name goodloc -q \
    "$T/big.tar.gz" 2>"$T/err" || fail "push to europe-west4 failed: $(cat "$T/err")"
[ "$(state 's["images"]["goodloc"]["storageLocations"]')" = "['europe-west4']" ] ||
    fail "storage location not set"
"$MKIMAGE" push gce $(gce_opts) --storage-location us --name goodloc2 -q \
    "$T/big.tar.gz" 2>"$T/err" || fail "push to us failed: $(cat "$T/err")"
ok "wrong project and storage location refused before the upload"

# 5. Files that are no disk: refused before the first network request.
tokens=$(state 's["counters"]["token_requests"]')
: >"$T/empty.raw"
head -c 3000000 /dev/urandom >"$T/random.img"
head -c 3000 /dev/urandom >"$T/random.tar.gz"
expect_fail "empty.raw" "$MKIMAGE" push gce $(gce_opts) --name e1 "$T/empty.raw"
expect_fail "random.img" "$MKIMAGE" push gce $(gce_opts) --name e2 "$T/random.img"
expect_fail "random.tar.gz" "$MKIMAGE" push gce $(gce_opts) --name e3 "$T/random.tar.gz"
[ "$(state 's["counters"]["token_requests"]')" = "$tokens" ] || fail "a token was fetched for a file that is no disk"
no_violations
no_secrets "$T/err" "$T/out.json" "$XDG_STATE_HOME"
ok "files that are no disk refused before any network request"
