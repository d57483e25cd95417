#!/usr/bin/env bash
# build.sh CLANG SOURCE_DIR FUZZ_DIR: the fuzz harnesses and a copy of the library built by
# clang with coverage for libFuzzer and ASan+UBSan (UBSan aborts: every finding is a crash).
set -euo pipefail
clang=$1 src=$2 dir=$3
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
flags="$flags -fno-omit-frame-pointer -g -O1 -Wno-format-nonliteral"
CC=$clang cmake -S "$src" -B "$dir" -DMK_FUZZ=ON -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    >"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
cmake --build "$dir" --target fuzz_all -j2
