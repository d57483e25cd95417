#!/usr/bin/env bash
# test.sh: installs what is needed (test services included), builds, and runs every test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" --tests
"$top/scripts/build.sh" "$top/build"
cd "$top/build"
ctest --output-on-failure -j 2 --timeout 1200
