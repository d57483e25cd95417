#!/usr/bin/python3
"""pty_run.py OUT TIMEOUT CMD...: runs CMD with its stdout and stderr on a pseudo-terminal
(as on a user's terminal), writes every byte it printed to OUT and exits with CMD's status
(124 when TIMEOUT seconds pass first; CMD is then killed)."""
import os
import pty
import select
import signal
import subprocess
import sys
import time

out_path, timeout, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
master, slave = pty.openpty()
proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                        close_fds=True)
os.close(slave)
data = bytearray()
deadline = time.monotonic() + timeout
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        proc.kill()
        proc.wait()
        open(out_path, "wb").write(data)
        sys.exit(124)
    r, _, _ = select.select([master], [], [], min(left, 0.5))
    if r:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            chunk = b""
        if not chunk:
            break
        data += chunk
    elif proc.poll() is not None:
        break
rc = proc.wait()
open(out_path, "wb").write(data)
sys.exit(rc if rc >= 0 else 128 - rc)
