#!/usr/bin/env python3
"""isolation_trace.py: reads strace logs of one `inspect` and checks that the image was read
in isolation (issue 13): our process opens the image once and never reads its bytes; the
reader, a child, reads them through the descriptor it was handed, never opening the path;
run as root, that child became the given user before it did anything.

  isolation_trace.py files LOG IMAGE          LOG from: strace -f -P IMAGE -o LOG ...
  isolation_trace.py main LOG IMAGE           LOG from: strace -P IMAGE -o LOG ... (no -f:
                                              our process only; the reader is not traced)
  isolation_trace.py ids LOG UID              LOG from: strace -f -e trace=execve,setresuid

Each prints what it found and exits 1 with the reason when a check fails.
"""
import re
import sys

LINE = re.compile(r"^(?:(\d+) +)?([a-z0-9_]+)\((.*)\) += (-?\w+)")
OPENS = {"open", "openat", "openat2", "creat"}
# What our process may do with the image besides opening it: look at it, hand it over.
MAIN_ALLOWED = OPENS | {"newfstatat", "fstat", "statx", "fcntl", "close"}


def calls(log):
    out = []
    for text in open(log, errors="replace"):
        m = LINE.match(text)
        if m:
            out.append((m.group(1), m.group(2), m.group(3), m.group(4)))
    return out


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def main_only(log, image):
    seen = calls(log)
    opens = [c for c in seen if c[1] in OPENS and '"%s"' % image in c[2]]
    if len(opens) != 1:
        fail("our process opened %s %d times, not once" % (image, len(opens)))
    other = sorted({c[1] for c in seen} - MAIN_ALLOWED)
    if other:
        fail("our process read the image itself: %s" % ", ".join(other))
    print("our process: %s" % ", ".join(sorted({c[1] for c in seen})))


def files(log, image):
    seen = calls(log)
    opens = [c for c in seen if c[1] in OPENS and '"%s"' % image in c[2]]
    if not opens:
        fail("nobody opened %s (was it traced with -f -P?)" % image)
    main = opens[0][0]
    by_pid = {}
    for pid, name, _, _ in seen:
        by_pid.setdefault(pid, set()).add(name)
    if len(opens) != 1:
        fail("%s was opened %d times: %s" % (image, len(opens),
                                             ", ".join("pid %s" % c[0] for c in opens)))
    other = sorted(by_pid[main] - MAIN_ALLOWED)
    if other:
        fail("our process (pid %s) read the image itself: %s" % (main, ", ".join(other)))
    readers = [p for p, names in by_pid.items() if p != main and names & {"read", "pread64"}]
    if not readers:
        fail("no child read the image")
    print("our process: %s; the reader (pid %s): %s" % (
        ", ".join(sorted(by_pid[main])), readers[0], ", ".join(sorted(by_pid[readers[0]]))))


def ids(log, uid):
    seen = calls(log)
    if not seen or seen[0][1] != "execve":
        fail("no execve first in %s" % log)
    main = seen[0][0]
    want = "%s, %s, %s" % (uid, uid, uid)
    drops = [c for c in seen if c[1] == "setresuid"]
    if any(c[0] == main for c in drops):
        fail("our process changed its own user")
    if not any(c[2] == want and c[3] == "0" for c in drops):
        fail("no child became user %s: %s" % (uid, drops))
    print("the reader (pid %s) became user %s" % (drops[0][0], uid))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("files", "main", "ids"):
        sys.exit(__doc__)
    {"files": files, "main": main_only, "ids": ids}[sys.argv[1]](sys.argv[2], sys.argv[3])
