# lib.sh: helpers for the integration tests. Source it first; it makes a scratch folder
# $T that is removed on exit, and checks the environment CTest gives.
set -euo pipefail

: "${MKIMAGE:?run through ctest, which sets MKIMAGE}"
: "${MK_SOURCE_DIR:?}"
# Never probe GCE's metadata server at 169.254.169.254: tests talk to 127.0.0.1 only.
export NO_GCE_CHECK=True
T=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# skip REASON: exit with CTest's skip code.
skip() {
    echo "SKIP: $*" >&2
    exit 77
}

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || fail "missing tool '$tool' (run scripts/install-deps.sh)"
    done
}

# In a sanitized build (tests/sanitized.sh runs the test) a sanitizer's report ends the
# process with this code, never an expected failure; sanitized.sh fails the test on any
# report anyway.
MK_SANITIZER_EXIT=${MK_SANITIZER_EXIT:-}

# expect_fail "TEXT" CMD...: CMD must exit non-zero with exactly one stderr line containing
# TEXT.
expect_fail() {
    local text=$1 rc=0
    shift
    "$@" >"$T/.out" 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "expected failure but got success: $*"
    [ "$rc" != "$MK_SANITIZER_EXIT" ] || fail "sanitizer report (exit $rc) from: $*"
    grep -qF -- "$text" "$T/err" || fail "expected '$text' in the error of: $* -- got: $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected a one-line error from: $* -- got: $(cat "$T/err")"
}

# Files whose names start with the given prefix, temporary ones included.
no_files_like() {
    local dir=$1 name=$2
    if ls -A "$dir" | grep -qF -- "$name"; then
        fail "files left behind in $dir: $(ls -A "$dir" | grep -F -- "$name" | tr '\n' ' ')"
    fi
}

# memory_bounded MIB CMD...: runs CMD with at most MIB MiB of memory. A sanitized build
# cannot run under ulimit -v (ASan reserves terabytes of address space before main), so there
# ASan bounds the resident memory itself (hard_rss_limit_mb: a report, exit 86).
memory_bounded() {
    local mib=$1
    shift
    if [ -n "${MK_SANITIZE:-}" ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:hard_rss_limit_mb=$mib" "$@"
    else
        (ulimit -v $((mib * 1024)) && exec "$@")
    fi
}

# without_leak_check CMD...: runs CMD, in a sanitized build with LeakSanitizer off, for a
# command of ours that runs under ptrace (strace), where LeakSanitizer cannot (it stops the
# process with ptrace itself) and reports only that; or under zsh, whose SIGCONT to each
# process of a pipeline can cancel that stop and hang the check (7 runs in 40). ASan and
# UBSan still watch it; the same commands are leak-checked elsewhere.
without_leak_check() {
    ASAN_OPTIONS="${ASAN_OPTIONS:-}${MK_SANITIZE:+:detect_leaks=0}" "$@"
}

ok() {
    echo "ok: $*"
}

# interrupt PID WHAT [SECONDS]: Ctrl-C (SIGINT) to PID, which must end within SECONDS
# (default 10); its exit status is left in $rc.
interrupt() {
    local pid=$1 what=$2 seconds=${3:-10}
    kill -INT "$pid"
    for _ in $(seq $((seconds * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null || true
        fail "$what did not stop within $seconds s of SIGINT"
    fi
    rc=0
    wait "$pid" || rc=$?
}

# dies_with PARENT PATTERN WHAT: waits (10 s at most) for a process whose command line matches
# PATTERN (pgrep -f) to start, kills PARENT with -9, and fails unless that process, WHAT,
# is gone within 5 s: children must die with us.
dies_with() {
    local parent=$1 pattern=$2 what=$3 left
    for _ in $(seq 100); do
        pgrep -f "$pattern" >/dev/null && break
        sleep 0.1
    done
    pgrep -f "$pattern" >/dev/null || fail "$what did not start"
    kill -9 "$parent"
    wait "$parent" 2>/dev/null || true
    for _ in $(seq 50); do
        pgrep -f "$pattern" >/dev/null || break
        sleep 0.1
    done
    if left=$(pgrep -f "$pattern"); then
        kill $left
        fail "$what outlived the killed command"
    fi
}
