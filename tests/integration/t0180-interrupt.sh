#!/usr/bin/env bash
# t0180-interrupt: Ctrl-C reaches the loops whose work grows with the input, not only the
# ones that write: a build hashing a 20 GiB sparse file (every byte of its holes), a pack of
# a 16 MB gzip that inflates to 16 GiB of tar members to skip, a pack of the same archive's
# zeros after its end. Each stops within 3 s of SIGINT, exits 130 and leaves nothing.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
need python3 truncate
mkdir tmp work
export TMPDIR=$T/tmp

# interrupted WHAT CMD...: runs CMD in work/, sends it SIGINT once it has run a second, and
# fails unless it exits 130 within 3 s (it is killed at 3 s, so a failure does not hang).
interrupted() {
    local what=$1 pid
    shift
    (cd work && exec "$@") >out 2>err &
    pid=$!
    sleep 1
    kill -0 "$pid" 2>/dev/null || fail "$what ended before it was interrupted: $(cat err)"
    interrupt "$pid" "$what" 3
    [ "$rc" = 130 ] || fail "$what: exit status $rc after SIGINT, expected 130: $(cat err)"
    grep -qF "interrupted" err || fail "$what: not said: $(cat err)"
    ls -A work | grep -qv '^input' && fail "$what left $(ls -A work | grep -v '^input' | tr '\n' ' ')"
    [ -z "$(ls -A tmp)" ] || fail "$what left $(ls -A tmp) in TMPDIR"
    true
}

# The image's identifiers hash every byte of its files, holes included.
truncate -s 20G work/input.sparse
interrupted "build hashing a 20 GiB sparse file" "$MKIMAGE" build -q -o out.raw --size 21G \
    --file input.sparse:/big "$MBPROBE"
ok "build: SIGINT stops the hashing of a big file"

# Two pax members of 8 GiB of zeros (gzip members back to back, 64 KiB each per 64 MiB),
# skipped on the way to the disk; then the end of the archive.
python3 - work/input.tar.gz <<'EOF'
import gzip, sys

def header(name, size, kind):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"00000000000\0"
    h[156:157] = kind
    h[257:265] = b"ustar  \0"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)

chunk = 64 << 20
zeros = gzip.compress(b"\0" * chunk, compresslevel=9, mtime=0)
with open(sys.argv[1], "wb") as f:
    for i in range(2):
        f.write(gzip.compress(header(b"pax%d" % i, 127 * chunk, b"x"), mtime=0))
        for _ in range(127):
            f.write(zeros)
    f.write(gzip.compress(b"\0" * 1024, mtime=0))
EOF
interrupted "pack skipping 16 GiB of tar members" "$MKIMAGE" pack -q input.tar.gz -o out.raw
ok "pack: SIGINT stops the skipping of members"

# The same zeros after the end of the archive: read through to check the gzip stream ends.
python3 - work/input.tar.gz <<'EOF'
import gzip, sys

chunk = 64 << 20
zeros = gzip.compress(b"\0" * chunk, compresslevel=9, mtime=0)
with open(sys.argv[1], "wb") as f:
    f.write(gzip.compress(b"\0" * 1024, mtime=0))
    for _ in range(254):
        f.write(zeros)
EOF
interrupted "pack reading 16 GiB after the archive's end" "$MKIMAGE" pack -q input.tar.gz -o out.raw
ok "pack: SIGINT stops the reading of what follows the archive"

# The command line's own hashing: build --sha256 of a 20 GiB raw disk hashes its holes. Once
# the disk is written (renamed into place), SIGINT stops the hashing: exit 130, the disk kept.
rm -f work/input*
(cd work && exec "$MKIMAGE" build -o out.raw --size 20G --sha256 "$MBPROBE") >out 2>err &
pid=$!
for _ in $(seq 300); do [ -e work/out.raw ] && break; sleep 0.1; done
[ -e work/out.raw ] || { kill -9 "$pid"; fail "build --sha256 did not write its disk: $(cat err)"; }
interrupt "$pid" "build --sha256 (hashing)" 3
[ "$rc" = 130 ] || fail "build --sha256: exit status $rc after SIGINT, expected 130: $(cat err)"
grep -qF "interrupted; out.raw was written, its SHA-256 was not computed" err ||
    fail "build --sha256: not said: $(cat err)"
[ "$(stat -c %s work/out.raw)" = $((20 << 30)) ] || fail "the written disk was not kept whole"
ok "build --sha256: SIGINT stops the hashing of the written disk, which is kept"
