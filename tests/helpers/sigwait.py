#!/usr/bin/env python3
"""Test service: reports every signal it receives, one number per line on stdout.

Blocks all 64 signals and takes them with rt_sigtimedwait, both as raw syscalls, so that 32 and 33
(which glibc, and so Python's signal module, keep to themselves) are seen too and nothing is lost
to handler races. Prints 'ready' first. Exits 0 after the signal named by argv[1] (default 15).
"""
import ctypes
import platform
import sys

SYSCALLS = {"x86_64": (14, 128), "aarch64": (135, 137)}  # rt_sigprocmask, rt_sigtimedwait
SIGPROCMASK, SIGTIMEDWAIT = SYSCALLS[platform.machine()]
SIG_BLOCK = 0

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
stop = int(sys.argv[1]) if len(sys.argv) > 1 else 15
mask = ctypes.c_uint64(0xFFFFFFFFFFFFFFFF)
if libc.syscall(SIGPROCMASK, SIG_BLOCK, ctypes.byref(mask), None, 8) != 0:
    sys.exit("rt_sigprocmask failed: errno %d" % ctypes.get_errno())
info = ctypes.create_string_buffer(128)
print("ready", flush=True)
while True:
    signo = libc.syscall(SIGTIMEDWAIT, ctypes.byref(mask), info, None, 8)
    if signo < 0:
        if ctypes.get_errno() == 4:  # EINTR
            continue
        sys.exit("rt_sigtimedwait failed: errno %d" % ctypes.get_errno())
    print(signo, flush=True)
    if signo == stop:
        sys.exit(0)
