#!/usr/bin/env bash
# test.sh: installs what is needed (test services included), builds, and runs every test;
# then the unit tests again in a build with gcc's ASan+UBSan (-DMK_SANITIZE=ON). Clang's
# ASan+UBSan run the whole library through the fuzz targets (ctest -L fuzz) in the first run.
# The integration suite runs once: twice would double CI's time for little more coverage.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" --tests
"$top/scripts/build.sh" "$top/build"
cd "$top/build"
ctest --output-on-failure -j 2 --timeout 1200
cmake -S "$top" -B "$top/build-sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMK_SANITIZE=ON \
    >/dev/null
cmake --build "$top/build-sanitize" -j "$(nproc)"
cd "$top/build-sanitize"
ctest --output-on-failure -j 2 --timeout 600 -L unit
