#!/usr/bin/env bash
# run.sh fuzz_NAME: replays the harness's corpus of past findings (tests/fuzz/corpus/NAME)
# and its seeds (made as its header comment says), then fuzzes for MK_FUZZ_SECONDS. A crash,
# leak, UB, timeout or memory blow-up fails the test; the input is kept under
# $MK_FUZZ_DIR/work/NAME/ for you to copy into the corpus once it is fixed.
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

sed -n 's/^ \* seeds: //p' "$src" >"$WORK/seeds.sh"
(cd "$WORK" && bash -euo pipefail "$WORK/seeds.sh") || { echo "FAIL: making the seeds" >&2; exit 1; }
read -r -a options <<<"$(sed -n 's/^ \* options: //p' "$src" | tr '\n' ' ')"
[ "$(ls -A "$SEEDS")" ] || { echo "FAIL: no seeds made" >&2; exit 1; }

common=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 "-artifact_prefix=$WORK/"
        "${options[@]}")
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# 1. Past findings and seeds, each once: they must all pass.
inputs=("$SEEDS"/*)
[ -d "$corpus" ] && inputs+=("$corpus"/*)
"$bin" "${common[@]}" "${inputs[@]}" >"$WORK/replay.log" 2>&1 ||
    { tail -40 "$WORK/replay.log" >&2; echo "FAIL: a known input fails (above)" >&2; exit 1; }
# 2. New inputs for a bounded time.
dirs=("$WORK/new" "$SEEDS")
[ -d "$corpus" ] && dirs+=("$corpus")
if ! "$bin" "${common[@]}" -max_total_time="${MK_FUZZ_SECONDS:-20}" -print_final_stats=1 \
        "${dirs[@]}" >"$WORK/fuzz.log" 2>&1; then
    tail -60 "$WORK/fuzz.log" >&2
    echo "FAIL: $harness found a problem; the input: $(ls "$WORK"/{crash,leak,timeout,oom,slow-unit}-* 2>/dev/null | head -1)" >&2
    exit 1
fi
grep -E "stat::number_of_executed_units|stat::new_units_added" "$WORK/fuzz.log" | tr '\n' ' '
echo
echo "ok: $harness"
