# t4010-gce-progress.sh: push gce's upload progress counts bytes on the wire: it moves
# while one request carries the whole file, and after a failure it falls back to what Cloud
# Storage holds. The server persists the first 512 KiB and then refuses every request, so
# the upload fails with 512 KiB of ~640 KiB on the server, and the last progress line (one
# per report: MK_TEST_PROGRESS_INTERVAL=0) before the error says exactly that.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl

start_server
write_key "$T/key.json"
head -c 500000 /dev/urandom >"$T/rand.bin"
"$MKIMAGE" build -o "$T/big.tar.gz" --file "$T/rand.bin:/rand.bin" "$MBPROBE" >/dev/null 2>&1 ||
    fail "cannot build the test archive"
size=$(stat -c %s "$T/big.tar.gz")
# Between two and three chunks: the last bytes stay buffered after they are handed over.
[ "$size" -gt $((512 * 1024)) ] && [ "$size" -lt $((768 * 1024)) ] ||
    fail "the archive ($size bytes) must be between 512 and 768 KiB"

fault '{"chunk_status": {"skip": 2, "count": 100, "status": 503}}'
rc=0
MK_TEST_PROGRESS_INTERVAL=0 "$MKIMAGE" push gce $(gce_opts) --name big --retries 2 \
    "$T/big.tar.gz" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "expected the push to fail (exit 1), got $rc: $(cat "$T/err")"
persisted=$(state 'max([v["persisted"] for v in s["sessions"].values()] or [0])')
[ "$persisted" = $((512 * 1024)) ] || fail "the server holds $persisted bytes, expected 512 KiB"
grep 'uploading' "$T/err" >"$T/lines" || fail "no upload progress line: $(cat "$T/err")"
/usr/bin/python3 - "$T/lines" "$persisted" "$size" <<'PY' || fail "wrong progress after the failure: $(cat "$T/lines")"
import re, sys
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
persisted, size = int(sys.argv[2]), int(sys.argv[3])
claims = []
for line in open(sys.argv[1]):
    m = re.search(r"\(([\d.]+) (B|KiB|MiB|GiB) of ", line)
    assert m, "unparsable progress line: " + line
    claims.append(float(m.group(1)) * units[m.group(2)])
# The figures are rounded to one decimal: allow that much.
assert all(c <= size + 52 for c in claims), "a line claims more than the archive"
assert abs(claims[-1] - persisted) <= 52, \
    "the last line claims %d bytes, the server holds %d" % (claims[-1], persisted)
PY
ok "after a failure the progress falls back to what the server holds ($persisted bytes)"

# Without faults, the one request that carries the file shows progress as it goes.
curl -sf -X POST "$BASE/_clear_faults" >/dev/null
MK_TEST_PROGRESS_INTERVAL=0 "$MKIMAGE" push gce $(gce_opts) --name big2 "$T/big.tar.gz" \
    >"$T/out" 2>"$T/err" || fail "push failed: $(cat "$T/err")"
grep 'uploading' "$T/err" >"$T/lines" || fail "no upload progress line: $(cat "$T/err")"
/usr/bin/python3 - "$T/lines" <<'PY' || fail "progress did not move during the request: $(cat "$T/lines")"
import re, sys
figures = [m.group(1) + m.group(2) for m in
           (re.search(r"\(([\d.]+) (B|KiB|MiB) of ", l) for l in open(sys.argv[1])) if m]
assert len(set(figures)) >= 3, figures
PY
ok "progress moves during the request ($(sort -u "$T/lines" | wc -l) distinct lines)"
