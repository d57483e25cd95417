#!/usr/bin/env bash
# bench.sh: times `build -o disk.tar.gz` against the standard rootless pipeline (sfdisk,
# mke2fs -d, grub-mkimage, dd, tar -Sz or tar -S | pigz), side by side in one run.
#
# usage: bench/bench.sh            (after a build in ./build; see the variables below)
#   BUILD=DIR        the CMake build folder (default: build)
#   MKIMAGE=FILE     the command to time (default: $BUILD/unikernel-mkimage)
#   KERNEL=FILE      the multiboot kernel (default: $BUILD/examples/mbprobe/mbprobe.elf)
#   PAYLOAD=FILE     a ~20 MiB real ELF file to put in the image (default: one found on
#                    the system, else 20 MiB cut from /usr/bin binaries)
#   RUNS=N           runs per case, the median is reported (default 5, at least 5)
#   SIZES="1 10"     disk sizes in GiB
# Each case's median wall time and peak RSS (/usr/bin/time %M: the largest process of the
# pipeline) are printed, then the ratios and PASS/MISS per target.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MKIMAGE=${MKIMAGE:-$BUILD/unikernel-mkimage}
KERNEL=${KERNEL:-$BUILD/examples/mbprobe/mbprobe.elf}
RUNS=${RUNS:-5}
SIZES=${SIZES:-"1 10"}
GRUB_DIR=${GRUB_DIR:-/usr/lib/grub/i386-pc}
export MK_TEMPLATE_DIR=${MK_TEMPLATE_DIR:-$ROOT/templates}
export SOURCE_DATE_EPOCH=0
export LC_ALL=C

die() {
    echo "bench: $*" >&2
    exit 1
}

[ "$RUNS" -ge 5 ] || die "RUNS must be at least 5"
if [ ! -x "$MKIMAGE" ] && [ "$MKIMAGE" = "$BUILD/unikernel-mkimage" ]; then
    "$ROOT/scripts/install-deps.sh" && "$ROOT/scripts/build.sh" "$BUILD"
fi
[ -x "$MKIMAGE" ] || die "no $MKIMAGE: build first (cmake -S . -B build && make -C build)"
[ -f "$KERNEL" ] || die "no kernel $KERNEL"
for t in /usr/bin/time sfdisk mke2fs grub-mkimage tar gzip pigz truncate; do
    command -v "$t" >/dev/null || die "missing $t (scripts/install-deps.sh)"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

# A real ELF binary of about 20 MiB, not random bytes: compression must see real code.
pick_payload() {
    local f
    for f in /usr/bin/qemu-system-x86_64 /usr/libexec/qemu-system-i386 /usr/bin/shellcheck \
        /usr/lib/x86_64-linux-gnu/libz3.so.4 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1; do
        if [ -f "$f" ] && [ "$(stat -Lc %s "$f")" -ge 15000000 ] &&
            [ "$(stat -Lc %s "$f")" -le 30000000 ]; then
            echo "$f"
            return
        fi
    done
    # No such file here: 20 MiB of real binaries, end to end.
    find /usr/bin -maxdepth 1 -type f -size +100k | sort | while read -r f; do
        head -c 4 "$f" | grep -q ELF && cat "$f"
    done | head -c $((20 << 20)) >"$W/payload.elf" || true
    echo "$W/payload.elf"
}
PAYLOAD=${PAYLOAD:-$(pick_payload)}
PAYLOAD_BYTES=$(stat -Lc %s "$PAYLOAD")

# The staging folder mke2fs -d copies from, made once: a user of the standard pipeline has
# it already.
mkdir -p "$W/root/boot/grub"
cp "$KERNEL" "$W/root/boot/kernel"
cp "$PAYLOAD" "$W/root/boot/payload"
cat >"$W/root/boot/grub/grub.cfg" <<'EOF'
set timeout=0
menuentry unikernel {
    multiboot /boot/kernel
    module /boot/payload
    boot
}
EOF

ours() {
    "$MKIMAGE" build -q -o "$W/ours.tar.gz" --size "${1}G" -m "$PAYLOAD" "$KERNEL"
}

# standard SIZE_GIB gzip|pigz
standard() {
    local gib=$1 comp=$2 d=$W/std
    rm -rf "$d" && mkdir "$d" && cd "$d"
    truncate -s "${gib}G" disk.raw
    echo 'start=2048, type=83, bootable' | sfdisk -q disk.raw
    mke2fs -q -F -t ext2 -b 4096 -d "$W/root" -E offset=1048576 disk.raw \
        $(((gib * 1073741824 - 1048576) / 4096))
    grub-mkimage -O i386-pc -d "$GRUB_DIR" -o core.img -p '(hd0,msdos1)/boot/grub' \
        biosdisk part_msdos ext2 multiboot multiboot2 normal configfile
    dd if="$GRUB_DIR/boot.img" of=disk.raw bs=440 count=1 conv=notrunc status=none
    dd if=core.img of=disk.raw bs=512 seek=1 conv=notrunc status=none
    if [ "$comp" = gzip ]; then
        tar --format=oldgnu -cSzf disk.tar.gz disk.raw
    else
        tar --format=oldgnu -cSf - disk.raw | pigz >disk.tar.gz
    fi
}
export -f ours standard
export W MKIMAGE KERNEL PAYLOAD GRUB_DIR

# timed CASE CMD...: appends "seconds rss_kib" to $W/CASE.
timed() {
    local name=$1 t0 t1
    shift
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$W/rss" bash -c '"$@"' _ "$@" || die "$name failed"
    t1=$(date +%s%N)
    echo "$(((t1 - t0) / 1000000)) $(tail -1 "$W/rss")" >>"$W/$name"
}

median_ms() { cut -d' ' -f1 "$W/$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max_rss_mib() { cut -d' ' -f2 "$W/$1" | sort -n | tail -1 | awk '{printf "%.1f", $1/1024}'; }
secs() { awk -v m="$1" 'BEGIN {printf "%.3f", m/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

echo "payload: $PAYLOAD ($PAYLOAD_BYTES bytes); kernel: $KERNEL; runs: $RUNS; cores: $(nproc)"
# Interleaved, sizes too, so that a change in the machine's load hits every case alike.
for ((i = 0; i < RUNS; i++)); do
    for gib in $SIZES; do
        timed "ours-$gib" ours "$gib"
        cp "$W/ours.tar.gz" "$W/ours-$gib.tar.gz"
        timed "gzip-$gib" standard "$gib" gzip
        timed "pigz-$gib" standard "$gib" pigz
        cp "$W/std/disk.tar.gz" "$W/std-$gib.tar.gz"
    done
done
for gib in $SIZES; do
    sz_ours=$(stat -c %s "$W/ours-$gib.tar.gz")
    sz_std=$(stat -c %s "$W/std-$gib.tar.gz")
    echo
    printf '%s GiB disk           median s   peak RSS MiB\n' "$gib"
    printf '  (1) ours build      %8s   %8s   (%s bytes)\n' "$(secs "$(median_ms "ours-$gib")")" \
        "$(max_rss_mib "ours-$gib")" "$sz_ours"
    printf '  (2) std + tar -Sz   %8s   %8s\n' "$(secs "$(median_ms "gzip-$gib")")" \
        "$(max_rss_mib "gzip-$gib")"
    printf '  (3) std + pigz      %8s   %8s   (%s bytes)\n' "$(secs "$(median_ms "pigz-$gib")")" \
        "$(max_rss_mib "pigz-$gib")" "$sz_std"
done

echo
verdict() { if awk "BEGIN {exit !($1)}"; then echo PASS; else echo MISS; fi; }
for gib in $SIZES; do
    o=$(median_ms "ours-$gib") g=$(median_ms "gzip-$gib") p=$(median_ms "pigz-$gib")
    echo "$gib GiB: ours/(2) = $(ratio "$o" "$g")  target <= 0.50: $(verdict "$o <= 0.5 * $g")"
    echo "$gib GiB: ours/(3) = $(ratio "$o" "$p")  target <  1.00: $(verdict "$o < $p")"
done
set -- $SIZES
if [ $# -ge 2 ]; then
    a=$(median_ms "ours-$1") b=$(median_ms "ours-${!#}")
    echo "ours ${!#} GiB / $1 GiB = $(ratio "$b" "$a")  target within 10%:" \
        "$(verdict "$b <= 1.1 * $a && $b >= 0.9 * $a")"
fi
peak=$(cat "$W"/ours-* | cut -d' ' -f2 | sort -n | tail -1)
echo "ours peak RSS = $(awk -v k="$peak" 'BEGIN {printf "%.1f", k/1024}') MiB  target < 64:" \
    "$(verdict "$peak < 65536")"
