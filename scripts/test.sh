#!/usr/bin/env bash
# test.sh: installs what is needed (test services included), builds, and runs every test;
# then the whole suite again (unit, integration, layering) in two ASan+UBSan builds
# (-DMK_SANITIZE=ON), one by gcc and one by clang, built one after the other. In those, any
# sanitizer report (a memory error, a leak, undefined behaviour) from any process of ours
# fails the test that caused it (tests/sanitized.sh). The fuzz label runs once, in the first
# build: its harnesses are clang ASan+UBSan builds already.
# Nothing is skipped in the sanitized runs. What they cannot instrument is not ours: QEMU,
# grub-mkimage, plugins, libguestfs's appliance and the OpenStack services run as they are.
# Every suite runs even when one before it failed, so one run shows every failure; the exit
# status is non-zero if any failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" --tests
"$top/scripts/build.sh" "$top/build"
status=0
(cd "$top/build" && ctest --output-on-failure -j 2 --timeout 1200) || status=1
for cc in gcc clang; do
    dir=$top/build-sanitize-$cc
    start=$SECONDS
    CC=$cc cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMK_SANITIZE=ON \
        >/dev/null
    cmake --build "$dir" -j "$(nproc)"
    # Before the tests, so that CTest's own summary (with their time) closes the output.
    echo "test.sh: $cc ASan+UBSan build: $((SECONDS - start)) s"
    (cd "$dir" && ctest --output-on-failure -j 2 --timeout 1200 -LE fuzz) || status=1
done
exit "$status"
