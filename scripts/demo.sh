#!/usr/bin/env bash
# demo.sh: installs what is needed, builds, then does the main job on the bundled example:
# builds a bootable disk from our probe kernel (examples/mbprobe) with a module and a
# command line, inspects it, and boots it in QEMU, judging it by its serial output.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build"
mk="$top/build/unikernel-mkimage"
out="$top/build/example"
mkdir -p "$out"
echo "hello from a multiboot module" >"$out/greeting.txt"
set -x
"$mk" build -o "$out/disk.raw" --size 1G --module "$out/greeting.txt:greeting" \
    "$top/build/examples/mbprobe/mbprobe.elf" -- hello "two words" 'quote"d'
"$mk" inspect "$out/disk.raw"
"$mk" boot "$out/disk.raw" --expect "MBPROBE: done" --timeout 60
