#!/usr/bin/env bash
# upload.sh: times `push gce` of a ~300 MB archive against curl doing the same resumable
# upload (initiation POST, then PUT with Content-Range) to the same loopback sink
# (bench/gcs_sink.py, which discards the bytes), alternating, in one run.
#
# usage: bench/upload.sh            (after a build in ./build)
#   BUILD=DIR      the CMake build folder (default: build)
#   MKIMAGE=FILE   the command to time (default: $BUILD/unikernel-mkimage)
#   MB=N           payload size in MB (default 300; random, so the archive is as big)
#   RUNS=N         runs per side, the median is reported (default 5)
# Prints median wall time, CPU (user+sys) and peak RSS of each side, the CPU that `gzip -t`
# takes to check the same archive (for scale: ours checks it too, and hashes it with
# crc32c, on a thread beside the sending), and PASS/MISS for the targets: time <= 1.1x
# curl, peak RSS < 64 MiB, CPU <= 2x curl's plus the cost of checking and hashing the
# archive, taken as gzip -t's (and, stricter, CPU <= 2x curl's alone).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MKIMAGE=${MKIMAGE:-$BUILD/unikernel-mkimage}
KERNEL=${KERNEL:-$BUILD/examples/mbprobe/mbprobe.elf}
MB=${MB:-300}
RUNS=${RUNS:-5}
export MK_TEMPLATE_DIR=${MK_TEMPLATE_DIR:-$ROOT/templates}
export NO_GCE_CHECK=True LC_ALL=C

die() {
    echo "bench: $*" >&2
    exit 1
}

if [ ! -x "$MKIMAGE" ] && [ "$MKIMAGE" = "$BUILD/unikernel-mkimage" ]; then
    "$ROOT/scripts/install-deps.sh" && "$ROOT/scripts/build.sh" "$BUILD"
fi
[ -x "$MKIMAGE" ] || die "no $MKIMAGE: build first"
for t in /usr/bin/time /usr/bin/python3 curl openssl gzip; do
    command -v "$t" >/dev/null || die "missing $t (scripts/install-deps.sh)"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-upload-bench.XXXXXX")
SINK_PID=
trap '[ -z "$SINK_PID" ] || kill "$SINK_PID" 2>/dev/null; rm -rf "$W"' EXIT

head -c $((MB * 1000 * 1000)) /dev/urandom >"$W/payload"
"$MKIMAGE" build -q --size 1G -o "$W/up.tar.gz" --file "$W/payload:/payload" "$KERNEL" ||
    die "cannot build the archive"
rm -f "$W/payload"
SIZE=$(stat -c %s "$W/up.tar.gz")

/usr/bin/python3 "$ROOT/bench/gcs_sink.py" "$W/port" &
SINK_PID=$!
for _ in $(seq 100); do
    [ -s "$W/port" ] && break
    sleep 0.1
done
[ -s "$W/port" ] || die "the sink did not start"
BASE=http://127.0.0.1:$(cat "$W/port")
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/key.pem" 2>/dev/null
/usr/bin/python3 - "$W/key.json" "$W/key.pem" "$BASE/token" <<'EOF'
import json, sys
json.dump({"type": "service_account", "private_key_id": "0" * 40,
           "private_key": open(sys.argv[2]).read(), "client_email": "bench@p.iam.gserviceaccount.com",
           "client_id": "1", "token_uri": sys.argv[3], "project_id": "p"}, open(sys.argv[1], "w"))
EOF

curl_upload() {
    local loc
    loc=$(curl -sf -X POST -D - -o /dev/null -H "Authorization: Bearer x" \
        "$BASE/upload/storage/v1/b/b/o?uploadType=resumable&name=o.tar.gz" |
        tr -d '\r' | sed -n 's/^Location: //Ip')
    curl -sf -T "$W/up.tar.gz" -X PUT -H "Expect:" \
        -H "Content-Range: bytes 0-$((SIZE - 1))/$SIZE" "$loc" -o /dev/null
}
export -f curl_upload
export BASE SIZE W

# timed NAME COMMAND...: appends "wall user sys peakRSS" (s, s, s, KiB of the largest
# process) to $W/NAME. The wall time is taken here to the microsecond: GNU time's %e has
# 10 ms steps, 5% of a 0.2 s upload.
timed() {
    local name=$1 t0 t1 rc=0
    shift
    t0=$EPOCHREALTIME
    /usr/bin/time -f "%U %S %M" -o "$W/$name.last" "$@" || rc=$?
    t1=$EPOCHREALTIME
    echo "$t0 $t1 $(cat "$W/$name.last")" | awk '{print $2 - $1, $3, $4, $5}' >>"$W/$name"
    return $rc
}

for ((i = 0; i < RUNS; i++)); do
    timed curl bash -c curl_upload || die "curl upload failed"
    timed ours "$MKIMAGE" push gce -q \
        --credentials "$W/key.json" --project p --bucket b --name "bench-$i" \
        --storage-endpoint "$BASE" --compute-endpoint "$BASE/compute/v1/" "$W/up.tar.gz" ||
        die "push failed"
    timed hash gzip -t "$W/up.tar.gz"
done

# median FILE FIELD(1-based awk expression)
median() {
    awk "{print $2}" "$W/$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
c_wall=$(median curl '$1')
c_cpu=$(median curl '$2+$3')
o_wall=$(median ours '$1')
o_cpu=$(median ours '$2+$3')
o_rss=$(median ours '$4/1024')
h_cpu=$(median hash '$2+$3')
echo "archive: $SIZE bytes; runs: $RUNS; cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '                         median wall s   CPU s   peak RSS MiB\n'
printf '  curl resumable PUT     %12.3f %8s   %.1f\n' "$c_wall" "$c_cpu" "$(median curl '$4/1024')"
printf '  ours push gce          %12.3f %8s   %.1f\n' "$o_wall" "$o_cpu" "$o_rss"
printf '  gzip -t, for scale     %12.3f %8s\n' "$(median hash '$1')" "$h_cpu"
awk -v ow="$o_wall" -v cw="$c_wall" -v oc="$o_cpu" -v cc="$c_cpu" -v hc="$h_cpu" -v rss="$o_rss" 'BEGIN {
    printf "time ours/curl %.2f (target <= 1.10): %s\n", ow / cw, ow <= 1.1 * cw ? "PASS" : "MISS"
    printf "peak RSS %.1f MiB (target < 64): %s\n", rss, rss < 64 ? "PASS" : "MISS"
    printf "CPU ours %.2f s vs 2 x curl + gzip -t = %.2f s: %s\n", oc, 2 * cc + hc,
        oc <= 2 * cc + hc ? "PASS" : "MISS"
    printf "CPU ours %.2f s vs 2 x curl alone = %.2f s (stricter): %s\n", oc, 2 * cc,
        oc <= 2 * cc ? "PASS" : "MISS"
}'
