#!/usr/bin/env bash
# bench-openstack.sh: times `push openstack` against curl doing the same upload (`curl -T`)
# to the same real Glance on 127.0.0.1 (tests/servers/openstack-local.sh), side by side in
# one run. Kept apart from bench.sh (the build benchmark) and from the GCE upload benchmark.
#
# usage: bench/bench-openstack.sh
#   BUILD=DIR        the CMake build folder (default: build)
#   MKIMAGE=FILE     the command to time (default: $BUILD/unikernel-mkimage)
#   SIZE_MB=N        the image's size in MB (default 300): an MBR and random data, so that
#                    neither side can skip anything, sent as raw by both
#   RUNS=N           runs per case, the median is reported (default 5, at least 3)
#   MK_OPENSTACK_DIR=DIR  use the servers already started there instead of starting them
# Both go to the test servers' second Glance (cloud local-noqcow2, which takes raw): it caches
# validated tokens as Glance does by default, where the first one asks Keystone about every
# token for the tests that revoke them, which would charge each of our extra requests (the
# name's listing, the check after the upload) a Keystone round trip no real cloud costs.
# Both cases do the whole job: a Keystone token, the image record, the upload. Ours also
# hashes (MD5), waits for `active` and checks Glance's checksum and size. Printed: median
# wall time, peak RSS (/usr/bin/time %M) and CPU time (user + sys) of each, the ratios, and
# PASS/MISS for the targets (time <= 1.1x curl's, peak RSS < 64 MiB).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MKIMAGE=${MKIMAGE:-$BUILD/unikernel-mkimage}
SIZE_MB=${SIZE_MB:-300}
RUNS=${RUNS:-5}
PY=/usr/bin/python3
export LC_ALL=C

die() {
    echo "bench-openstack: $*" >&2
    exit 1
}

[ "$RUNS" -ge 3 ] || die "RUNS must be at least 3"
[ -x "$MKIMAGE" ] || die "no $MKIMAGE: build first (scripts/build.sh)"
for t in /usr/bin/time curl openstack; do
    command -v "$t" >/dev/null || die "missing $t (scripts/install-deps.sh, scripts/deps-openstack.txt)"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-bench-os.XXXXXX")
started=
cleanup() {
    [ -z "$started" ] || "$ROOT/tests/servers/openstack-local.sh" stop "$started" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
if [ -z "${MK_OPENSTACK_DIR:-}" ]; then
    MK_OPENSTACK_DIR=$W/os
    started=$MK_OPENSTACK_DIR
    "$ROOT/tests/servers/openstack-local.sh" start "$MK_OPENSTACK_DIR" >/dev/null ||
        die "the OpenStack servers did not start (logs: $MK_OPENSTACK_DIR/log)"
fi
for v in $(env | grep -o '^OS_[A-Z_]*' || true); do unset "$v"; done
export OS_CLIENT_CONFIG_FILE=$MK_OPENSTACK_DIR/clouds.yaml
# shellcheck disable=SC1091
. "$MK_OPENSTACK_DIR/ports"
DEMO_PW=$("$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.strip().startswith("password:"):
        print(json.loads(line.split(":", 1)[1])); break' "$MK_OPENSTACK_DIR/clouds.yaml")

IMG=$W/disk.raw
"$MKIMAGE" build -q -s 64M -o "$W/mbr.raw" "$BUILD/examples/mbprobe/mbprobe.elf" ||
    die "cannot build the MBR"
{ head -c 512 "$W/mbr.raw"; head -c $((SIZE_MB * 1000000 - 512)) /dev/urandom; } >"$IMG"

# curl doing what `openstack image create --file` does on the wire: a token, the record, the
# upload with curl -T (no hashing, no check).
curl_push() {
    local name=$1 tok id
    tok=$(curl -sf -m 60 -D - -o /dev/null -H 'Content-Type: application/json' -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"demo\",\"domain\":{\"name\":\"Default\"},\"password\":\"$DEMO_PW\"}}},\"scope\":{\"project\":{\"name\":\"demo\",\"domain\":{\"name\":\"Default\"}}}}}" \
        "http://127.0.0.1:$KPORT/v3/auth/tokens" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-subject-token" {print $2}')
    id=$(curl -sf -m 60 -H "X-Auth-Token: $tok" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$name\",\"disk_format\":\"raw\",\"container_format\":\"bare\"}" \
        "http://127.0.0.1:$G2PORT/v2/images" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    curl -sf -m 600 -H "X-Auth-Token: $tok" -H 'Content-Type: application/octet-stream' \
        -T "$IMG" "http://127.0.0.1:$G2PORT/v2/images/$id/file"
}
ours_push() {
    "$MKIMAGE" push openstack --os-cloud local-noqcow2 --name "$1" --disk-format raw -q "$IMG"
}
export -f curl_push ours_push
export IMG DEMO_PW KPORT G2PORT MKIMAGE PY

# timed CASE NAME: appends "ms rss_kib cpu_ms" to $W/CASE.
timed() {
    local case=$1 name=$2 t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$W/time" bash -c "${case}_push $name" || die "$case failed"
    t1=$(date +%s%N)
    read -r rss u s < <(tail -1 "$W/time")
    echo "$(((t1 - t0) / 1000000)) $rss $(awk -v u="$u" -v s="$s" 'BEGIN {printf "%d", (u + s) * 1000}')" >>"$W/$case"
    openstack --os-cloud local image delete "$name" >/dev/null
}
median() { cut -d' ' -f"$2" "$W/$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxcol() { cut -d' ' -f"$2" "$W/$1" | sort -n | tail -1; }

echo "image: $SIZE_MB MB (MBR + random data), sent as raw; runs: $RUNS; cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < RUNS; i++)); do # interleaved, so that load changes hit both alike
    timed curl "bench-curl-$i"
    timed ours "bench-ours-$i"
done
c=$(median curl 1) o=$(median ours 1)
printf '                 median s   peak RSS MiB   median CPU s\n'
for k in curl ours; do
    printf '  %-12s %10s %14s %14s\n' "$k" "$(awk -v m="$(median $k 1)" 'BEGIN {printf "%.2f", m/1000}')" \
        "$(awk -v k="$(maxcol $k 2)" 'BEGIN {printf "%.1f", k/1024}')" \
        "$(awk -v m="$(median $k 3)" 'BEGIN {printf "%.2f", m/1000}')"
done
verdict() { if awk "BEGIN {exit !($1)}"; then echo PASS; else echo MISS; fi; }
echo "ours/curl time = $(awk -v a="$o" -v b="$c" 'BEGIN {printf "%.2f", a/b}')  target <= 1.10: $(verdict "$o <= 1.1 * $c")"
peak=$(maxcol ours 2)
echo "ours peak RSS = $(awk -v k="$peak" 'BEGIN {printf "%.1f", k/1024}') MiB  target < 64: $(verdict "$peak < 65536")"
echo "ours/curl CPU = $(awk -v a="$(median ours 3)" -v b="$(median curl 3)" 'BEGIN {printf "%.2f", a/(b ? b : 1)}') (ours hashes MD5 too, to check what Glance stored)"
