#!/usr/bin/env bash
# sanitized.sh CMD...: runs one test of a sanitized build (-DMK_SANITIZE=ON, CTest puts it in
# front of every test). Each ASan, LeakSanitizer or UBSan report, from any instrumented process
# the test starts (the command, its forked image reader, a unit test, a program linked with the
# library), goes to a file of its own here, and any report fails the test: a test that expects
# a command to fail, or sends its stderr to /dev/null, cannot take a sanitizer's abort for the
# failure it wanted. Reports also end the process with exit 86, which no command of ours uses,
# so a test that checks the exit code fails at once too (lib.sh: MK_SANITIZER_EXIT).
# abort_on_error stays off: abort() would give 134, a code a test may mistake for a crash it
# provoked; detect_leaks is on (leaks in our code count).
set -uo pipefail
reports=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-sanitizer.XXXXXX") || exit 1
# Writable by all, as /tmp is: the image reader drops root for nobody (mk_run_isolated), and
# a report it cannot write ends it with no word.
chmod 1777 "$reports"
common="halt_on_error=1:abort_on_error=0:exitcode=86:log_path=$reports/report"
asan="$common:detect_leaks=1:detect_stack_use_after_return=1"
export ASAN_OPTIONS="$asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="$common:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export MK_SANITIZE=1 MK_SANITIZER_EXIT=86
"$@"
rc=$?
if compgen -G "$reports/report.*" >/dev/null; then
    for report in "$reports"/report.*; do
        echo "=== sanitizer report ${report##*/} ===" >&2
        cat "$report" >&2
    done
    echo "FAIL: sanitizer report(s) above (the test exited $rc)" >&2
    rc=1
fi
rm -rf "$reports"
exit "$rc"
