# t4023-gce-large.sh: the pre-flight check and the upload stream: an archive whose disk holds
# 3 GiB of data (zeros stored as data, so that it stays small and quick to make) is checked
# and pushed with a peak RSS under 64 MiB, and a damaged tail is still caught before the
# image is made.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl /usr/bin/time

start_server
write_key "$T/key.json"
"$MKIMAGE" build -o "$T/disk.raw" --size 1G "$MBPROBE" >/dev/null 2>&1 || fail "build disk.raw"

# big.tar.gz: one oldgnu sparse member disk.raw of 4 GiB whose map holds the built disk's
# first MiB (MBR and GRUB) and 3 GiB of zeros as data. The deflate stream is flushed fully
# between 1 MiB pieces, so one compressed zero piece serves for all of them.
/usr/bin/python3 - "$T/disk.raw" "$T/big.tar.gz" <<'EOF'
import struct, sys, zlib
MIB, GIB = 1 << 20, 1 << 30
head = open(sys.argv[1], "rb").read(MIB)
zeros_len = 3 * GIB
def octal(n, width):
    return ("%0*o" % (width - 1, n)).encode() + b"\0"
h = bytearray(512)
h[0:8] = b"disk.raw"
h[100:108] = b"0000644\0"
h[108:116] = b"0000000\0"
h[116:124] = b"0000000\0"
h[124:136] = octal(MIB + zeros_len, 12)
h[136:148] = octal(0, 12)
h[156:157] = b"S"
h[257:265] = b"ustar  \0"
h[386:398] = octal(0, 12)
h[398:410] = octal(MIB, 12)
h[410:422] = octal(GIB, 12)
h[422:434] = octal(zeros_len, 12)
h[483:495] = octal(4 * GIB, 12)
h[148:156] = b"        "
h[148:156] = ("%06o\0 " % sum(h)).encode()
c = zlib.compressobj(1, zlib.DEFLATED, -15)
out = open(sys.argv[2], "wb")
out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
crc, size = 0, 0
def put(data, flush=zlib.Z_FULL_FLUSH):
    global crc, size
    crc = zlib.crc32(data, crc)
    size += len(data)
    out.write(c.compress(data) + c.flush(flush))
put(bytes(h) + head)
zero = bytes(MIB)
seg = c.compress(zero) + c.flush(zlib.Z_FULL_FLUSH)
assert seg == c.compress(zero) + c.flush(zlib.Z_FULL_FLUSH)
zcrc = [0]
for i in range(zeros_len // MIB):
    out.write(seg)
    crc = zlib.crc32(zero, crc)
size += zeros_len
put(bytes(1024), zlib.Z_FINISH)
out.write(struct.pack("<II", crc & 0xffffffff, size & 0xffffffff))
EOF
gzip -t "$T/big.tar.gz" 2>/dev/null || fail "the generated archive is not valid gzip"
rm -f "$T/disk.raw"

/usr/bin/time -f "%M" -o "$T/rss" "$MKIMAGE" push gce $(gce_opts) --chunk-size 16M --name big \
    --keep-object --json "$T/big.tar.gz" >"$T/out.json" 2>"$T/err" ||
    fail "push of a 3 GiB-data archive failed: $(cat "$T/err")"
rss=$(($(tail -1 "$T/rss") / 1024))
[ "$rss" -lt 64 ] || fail "peak RSS $rss MiB"
[ "$(state 's["images"]["big"]["status"]')" = READY ] || fail "image not READY"
[ "$(state 's["images"]["big"]["diskSizeGb"]')" = 5 ] || fail "disk size: $(state 's["images"]["big"]')"
obj=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["object"].split("/", 3)[3])' "$T/out.json")
object_matches "$obj" "$T/big.tar.gz"
ok "a 3 GiB-data archive checked and pushed, peak RSS $rss MiB"

# The same archive with its gzip trailer damaged: found while it streams, the upload is
# cancelled before it completes, nothing is left.
cp "$T/big.tar.gz" "$T/bad.tar.gz"
printf '\x00\x00\x00\x00' | dd of="$T/bad.tar.gz" bs=1 seek=$(($(stat -c %s "$T/bad.tar.gz") - 8)) \
    conv=notrunc 2>/dev/null
objects=$(state 'len(s["objects"])')
expect_fail "not uploaded" "$MKIMAGE" push gce $(gce_opts) -q --chunk-size 16M --name bad \
    "$T/bad.tar.gz"
[ "$(state '"bad" in s["images"]')" = False ] || fail "an image was made from a damaged archive"
[ "$(state 'len(s["objects"])')" = "$objects" ] || fail "an object was left: $(state 's["objects"]')"
[ "$(state 'len(s["sessions"]) - sum(1 for v in s["sessions"].values() if v["complete"])')" = 0 ] ||
    fail "an upload session was left open: $(state 's["sessions"]')"
no_violations
no_secrets "$T/err" "$T/out.json" "$XDG_STATE_HOME"
ok "a damaged tail is caught while streaming"
