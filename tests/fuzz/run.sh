#!/usr/bin/env bash
# run.sh fuzz_NAME: replays the harness's committed corpus (tests/fuzz/corpus/NAME: past
# findings, and seeds written by hand) first, then the seeds its header comment makes, then
# fuzzes for MK_FUZZ_SECONDS (30). A crash, leak, UB, timeout or memory blow-up fails the
# test; the input is kept under $MK_FUZZ_DIR/work/NAME/ for you to copy into the corpus
# once it is fixed.
set -euo pipefail
harness=$1
name=${harness#fuzz_}
: "${MK_FUZZ_DIR:?run through ctest}" "${MK_SOURCE_DIR:?}"
bin=$MK_FUZZ_DIR/tests/fuzz/$harness
src=$MK_SOURCE_DIR/tests/fuzz/$harness.c
[ -x "$bin" ] || { echo "FAIL: $bin was not built (see the fuzz/build test)" >&2; exit 1; }
export WORK=$MK_FUZZ_DIR/work/$name SEEDS=$MK_FUZZ_DIR/work/$name/seeds
rm -rf "$WORK" && mkdir -p "$SEEDS" "$WORK/new"
corpus=$MK_SOURCE_DIR/tests/fuzz/corpus/$name
[ -d "$corpus" ] && [ "$(ls -A "$corpus")" ] || corpus=

read -r -a options <<<"$(sed -n 's/^ \* options: //p' "$src" | tr '\n' ' ')"
common=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 "-artifact_prefix=$WORK/"
        "${options[@]}")
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Each input once, in one process; they must all pass.
replay() {
    "$bin" "${common[@]}" "$@" >"$WORK/replay.log" 2>&1 ||
        { tail -40 "$WORK/replay.log" >&2; echo "FAIL: a known input fails (above)" >&2; exit 1; }
}
# 1. The committed corpus, before anything else can fail.
[ -z "$corpus" ] || replay "$corpus"/*
# 2. The seeds the header makes with our own tools.
sed -n 's/^ \* seeds: //p' "$src" >"$WORK/seeds.sh"
(cd "$WORK" && bash -euo pipefail "$WORK/seeds.sh") || { echo "FAIL: making the seeds" >&2; exit 1; }
if [ "$(ls -A "$SEEDS")" ]; then
    replay "$SEEDS"/*
elif [ -z "$corpus" ]; then
    echo "FAIL: no seeds made and no corpus in tests/fuzz/corpus/$name" >&2
    exit 1
fi
# 3. New inputs for a bounded time (libFuzzer writes them into the first folder).
dirs=("$WORK/new" "$SEEDS")
[ -z "$corpus" ] || dirs+=("$corpus")
if ! "$bin" "${common[@]}" -max_total_time="${MK_FUZZ_SECONDS:-30}" -print_final_stats=1 \
        "${dirs[@]}" >"$WORK/fuzz.log" 2>&1; then
    tail -60 "$WORK/fuzz.log" >&2
    echo "FAIL: $harness found a problem; the input: $(ls "$WORK"/{crash,leak,timeout,oom,slow-unit}-* 2>/dev/null | head -1)" >&2
    exit 1
fi
grep -E "stat::number_of_executed_units|stat::new_units_added" "$WORK/fuzz.log" | tr '\n' ' '
echo
echo "ok: $harness"
