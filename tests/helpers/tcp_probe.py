#!/usr/bin/env python3
"""Long-lived TCP connections across the overlay, for the fault tests (tests/fault_recovery.rs).

  tcp_probe.py serve ADDR PORT        echo every line back, one thread per connection
  tcp_probe.py client ADDR PORT N     open N connections (retrying only until the first time
                                      they all connect), then on each: send a numbered line every
                                      200 ms and wait for its echo, for ever

The client never reconnects: a connection that breaks stays broken, which is what the test
counts. Every 250 ms it prints one line:

  probe t=<unix time> echoed=<n1>,<n2>,... broken=<k>

where n_i is how many echoes connection i has received so far (-1 once it broke).
"""
import socket
import sys
import threading
import time


def serve(addr, port):
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(64)
    print("probe listening", flush=True)

    def echo(conn):
        with conn:
            f = conn.makefile("rwb", buffering=0)
            while True:
                line = f.readline()
                if not line:
                    return
                f.write(line)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def client(addr, port, n):
    socks = []
    deadline = time.time() + 30
    while len(socks) < n:
        try:
            socks.append(socket.create_connection((addr, port), timeout=2))
        except OSError as e:
            if time.time() > deadline:
                print(f"probe cannot connect: {e}", flush=True)
                sys.exit(2)
            time.sleep(0.2)
    echoed = [0] * n

    def run(i, s):
        s.settimeout(None)
        f = s.makefile("rwb", buffering=0)
        seq = 0
        try:
            while True:
                seq += 1
                f.write(b"%d\n" % seq)
                if f.readline() != b"%d\n" % seq:
                    raise OSError("wrong or no echo")
                echoed[i] = seq
                time.sleep(0.2)
        except OSError as e:
            echoed[i] = -1
            print(f"probe connection {i} broke: {e}", flush=True)

    for i, s in enumerate(socks):
        threading.Thread(target=run, args=(i, s), daemon=True).start()
    while True:
        broken = sum(1 for e in echoed if e < 0)
        counts = ",".join(str(e) for e in echoed)
        print(f"probe t={time.time():.3f} echoed={counts} broken={broken}", flush=True)
        time.sleep(0.25)


if __name__ == "__main__":
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "serve":
        serve(addr, port)
    else:
        client(addr, port, int(sys.argv[4]))
