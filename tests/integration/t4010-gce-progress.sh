# t4010-gce-progress.sh: push gce's upload progress counts the bytes Cloud Storage
# acknowledged, never bytes merely buffered: the server persists two 256 KiB chunks and then
# refuses every chunk, so the upload fails with 512 KiB of ~640 KiB on the server (the rest
# was handed over and buffered, never acknowledged), and no progress line (one per report:
# MK_TEST_PROGRESS_INTERVAL=0) may claim more than that.
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
/usr/bin/python3 - "$T/lines" "$persisted" <<'PY' || fail "progress ran ahead of the server: $(cat "$T/lines")"
import re, sys
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
persisted = int(sys.argv[2])
for line in open(sys.argv[1]):
    m = re.search(r"\(([\d.]+) (B|KiB|MiB|GiB) of ", line)
    assert m, "unparsable progress line: " + line
    # The figure is rounded to one decimal: allow that much.
    claimed = float(m.group(1)) * units[m.group(2)]
    assert claimed <= persisted + 0.05 * units[m.group(2)], \
        "claims %d bytes, the server holds %d: %s" % (claimed, persisted, line)
PY
ok "upload progress counts acknowledged bytes ($(wc -l <"$T/lines") lines, none over $persisted)"
