#!/usr/bin/env python3
"""Runs argv under a new pseudo-terminal, as `docker run -it` gives a container one.

Waits for 'ready' in the output, types Ctrl-C, then collects everything until the child exits.
Prints the child's output, then 'EXIT <code>' on the last line.
"""
import os
import pty
import select
import sys
import time

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

out = b""
deadline = time.time() + 20
sent = False
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if not sent and b"ready" in out:
        os.write(fd, b"\x03")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
print("\nEXIT %d" % os.waitstatus_to_exitcode(status))
