#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/ (seed-* files).

Real inputs only: the configuration files of ../shared/vectors and tests/data/config, the CNs and
DER of the real certificates there, and real frames (the reference client's heartbeat, the
router's reply, ordinary IPv6 traffic between endpoints, what the filters must drop). Run once
from the repository root; `cargo fuzz cmin` then keeps what adds coverage.
"""
import glob
import ipaddress
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(ROOT, "..", "shared", "vectors")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

# The addresses router_session routes (A, B, C) and the ENF router's.
A = ipaddress.IPv6Address("fd00:8f80:8f80::a").packed
B = ipaddress.IPv6Address("fd00:8f80:8f80::b").packed
C = ipaddress.IPv6Address("fd00:8f80:8f80::c").packed
ROUTER = ipaddress.IPv6Address("fe80::1").packed
TEST_CN = ipaddress.IPv6Address("fd00:8f80:1::1234").packed


def checksum(src, dst, msg):
    data = src + dst + struct.pack(">I", len(msg)) + b"\0\0\0\x3a" + msg
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv6(src, dst, nh, payload, hop=64):
    return bytes([0x60, 0, 0, 0]) + struct.pack(">HBB", len(payload), nh, hop) + src + dst + payload


def echo(src, dst, kind, idseq=b"ENFT", data=b""):
    msg = bytes([kind, 0, 0, 0]) + idseq + data
    s = checksum(src, dst, msg)
    msg = msg[:2] + struct.pack(">H", s) + msg[4:]
    return ipv6(src, dst, 58, msg, hop=255)


def udp(src, dst, data):
    return ipv6(src, dst, 17, struct.pack(">HHHH", 5353, 53, 8 + len(data), 0) + data)


def ipv4(length=28):
    p = bytearray(length)
    p[0] = 0x45
    p[2:4] = struct.pack(">H", length)
    p[9] = 17
    p[12:16] = bytes([198, 18, 0, 1])
    p[16:20] = bytes([198, 18, 0, 2])
    return bytes(p)


def frame(p):
    return struct.pack(">H", len(p)) + p


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def der(pem_path):
    return subprocess.run(
        ["openssl", "x509", "-in", pem_path, "-outform", "der"], check=True, capture_output=True
    ).stdout


def cn(pem_path):
    out = subprocess.run(
        ["openssl", "x509", "-in", pem_path, "-noout", "-subject", "-nameopt", "multiline"],
        check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        if "commonName" in line:
            return line.split("=", 1)[1].strip()
    return None


def main():
    hb_a = echo(A, ROUTER, 128)
    hb_reply = echo(ROUTER, A, 129)
    ping_data = echo(A, ROUTER, 128, b"\0\7\0\1", b"payload!")
    packets = {
        "heartbeat": hb_a,
        "heartbeat-reply": hb_reply,
        "ping-with-data": ping_data,
        "udp-a-to-b": udp(A, B, b"hello from a"),
        "udp-a-to-c-large": udp(A, C, bytes(range(256)) * 4),
        "spoofed-c-to-b": udp(C, B, b"x"),
        "a-to-unknown": udp(A, TEST_CN, b"x"),
        "a-to-router-not-echo": udp(A, ROUTER, b"x"),
        "mld-link-local": ipv6(ipaddress.IPv6Address("fe80::2").packed,
                               ipaddress.IPv6Address("ff02::16").packed, 0, b"\x3a\0\5\2\0\0\1\0"),
        "ipv4": ipv4(),
    }

    # frame_decoder: k=0 (one piece) and k=3 reads, over real frame streams.
    all_frames = b"".join(frame(p) for p in packets.values())
    write("frame_decoder", "all-frames", b"\0" + all_frames)
    write("frame_decoder", "all-frames-3-reads", b"\3" + struct.pack(">HHH", 1, 7, 1500) + all_frames)
    write("frame_decoder", "heartbeats", b"\0" + frame(hb_a) * 3)
    write("frame_decoder", "zero-length", b"\0" + frame(b"") + frame(hb_a))
    write("frame_decoder", "oversize", b"\0" + frame(hb_a) + struct.pack(">H", 1497) + b"\0" * 8)
    write("frame_decoder", "max-frame", b"\2" + struct.pack(">HH", 2, 1000) + frame(bytes(1496)))
    write("frame_decoder", "truncated", b"\0" + frame(hb_a) + frame(hb_a)[:-5])

    # packet_filters: our address A, IPv4 off and on.
    for name, p in packets.items():
        write("packet_filters", name, A + b"\0" + p)
    write("packet_filters", "ipv4-allowed", A + b"\1" + ipv4())
    write("packet_filters", "reply-to-b", B + b"\0" + echo(ROUTER, B, 129))

    # router_session: the sender is A (flags 1), B (3), or not yet known (0).
    session = b"".join(frame(p) for p in packets.values())
    write("router_session", "from-a", b"\1\0" + session)
    write("router_session", "from-a-in-reads", b"\1\2" + struct.pack(">HH", 3, 100) + session)
    write("router_session", "from-b", b"\3\0" + frame(udp(B, A, b"hi")) + frame(echo(B, ROUTER, 128)))
    write("router_session", "before-identity", b"\0\0" + frame(hb_a))
    write("router_session", "oversize", b"\1\0" + frame(hb_a) + b"\xff\xff")

    # config: the real files.
    confs = sorted(glob.glob(os.path.join(VECTORS, "*.conf")) +
                   glob.glob(os.path.join(ROOT, "tests", "data", "config", "*.conf")))
    for path in confs:
        with open(path, "rb") as f:
            write("config", os.path.basename(path), f.read())

    # cn_address: the real certificates' CNs and DER.
    pems = sorted(glob.glob(os.path.join(VECTORS, "*.crt.pem")) +
                  glob.glob(os.path.join(VECTORS, "*.cacert.pem")) +
                  glob.glob(os.path.join(ROOT, "tests", "data", "config", "*.crt.pem")))
    for path in pems:
        base = os.path.basename(path).replace(".pem", "")
        write("cn_address", base + ".der", der(path))
        name = cn(path)
        if name:
            write("cn_address", base + ".cn", name.encode())
    for name in ["2607:8f80::deb:1", "::ffff:192.0.2.1", "FD008F80000100000000000000001234", "ff02::1"]:
        write("cn_address", "cn-" + name.replace(":", "_"), name.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
