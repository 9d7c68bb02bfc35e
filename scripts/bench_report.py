"""scripts/bench's arithmetic and output (pure: no processes, no I/O but what the caller writes):
raw per-run values to figures ({"median", "min", "max"}), the targets of issue 7, the table and
the SVG chart. Kept apart so it can be re-run on a saved target/bench/raw.json:

    python3 scripts/bench_report.py target/bench/raw.json
"""

import json
import math
import sys


def med(values):
    v = sorted(values)
    n = len(v)
    if n == 0:
        return float("nan")
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(math.ceil(p / 100 * len(v))) - 1)]


def fig(values, digits=4):
    r = lambda x: round(x, digits)  # noqa: E731
    return {"median": r(med(values)), "min": r(min(values)), "max": r(max(values)),
            "runs": len(values)}


def m(results, key):
    v = results[key]
    return v["median"] if isinstance(v, dict) else v


# name, key, comparison, limit, how the figure is formed
TARGETS = [
    ("overlay >= 30 % of one TLS stream", "overlay_vs_tls_stream", ">=", 0.30),
    ("overlay >= 3x one record per packet", "overlay_vs_one_record", ">=", 3.0),
    ("added RTT at idle < 250 us", "added_rtt_us", "<", 250),
    ("ready < 50 ms", "ready_ms", "<", 50),
    ("init overhead < 1 ms", "init_overhead_ms", "<", 1),
    ("enf-init RSS idle < 4 MB", "rss_idle_kb", "<", 4096),
    ("router < 20 KB per session", "router_kb_per_session", "<", 20),
    ("static enf-init < 2 MiB (2,097,152 bytes)", "binary_bytes", "<", 2 * 1024 * 1024),
]


def figures(raw):
    """results.json: every figure as {median, min, max, runs} (sizes as plain numbers)."""
    o, u, one = raw["overlay"], raw["underlay"], raw["one_record"]
    tls1, tls4 = raw["tls_stream"], raw["tls_stream_4"]
    res = {
        "overlay_tcp_gbps": fig(o["tcp_fwd_gbps"]),
        "overlay_tcp_reverse_gbps": fig(o["tcp_rev_gbps"]),
        "overlay_tcp_4_streams_gbps": fig(o["tcp_4_gbps"]),
        "overlay_udp64_pps": fig(o["udp64_pps"], 0),
        "underlay_tcp_gbps": fig(u["tcp_fwd_gbps"]),
        "underlay_tcp_reverse_gbps": fig(u["tcp_rev_gbps"]),
        "underlay_tcp_4_streams_gbps": fig(u["tcp_4_gbps"]),
        "underlay_udp64_pps": fig(u["udp64_pps"], 0),
        "tls_stream_gbps": fig([r["gbps"] for r in tls1]),
        "tls_stream_4_streams_gbps": fig([r["gbps"] for r in tls4]),
        "one_record_per_packet_gbps": fig(one["tcp_fwd_gbps"]),
        "cpu_s_per_gb_enf_init_sender": fig(o["cpu_s_per_gb"]["enf_init_a"]),
        "cpu_s_per_gb_enf_init_receiver": fig(o["cpu_s_per_gb"]["enf_init_b"]),
        "cpu_s_per_gb_router": fig(o["cpu_s_per_gb"]["router"]),
        "cpu_s_per_gb_tls_stream_sender": fig([r["tx_cpu"] / (r["bytes"] / 1e9) for r in tls1]),
        "cpu_s_per_gb_tls_stream_receiver": fig([r["rx_cpu"] / (r["bytes"] / 1e9) for r in tls1]),
        "cpu_s_per_gb_one_record_sender": fig(one["cpu_s_per_gb"]["client_a"]),
        "cpu_s_per_gb_one_record_receiver": fig(one["cpu_s_per_gb"]["client_b"]),
        "cpu_s_per_gb_router_one_record": fig(one["cpu_s_per_gb"]["router"]),
    }
    for where in ("overlay", "underlay"):
        idle = raw[f"rtt_idle_{where}_us"]
        load = raw[where]["rtt_load_us"]
        res[f"rtt_idle_{where}_us"] = fig([med(r) for r in idle], 1)
        res[f"rtt_idle_{where}_p99_us"] = fig([pct(r, 99) for r in idle], 1)
        res[f"rtt_load_{where}_us"] = fig([med(r) for r in load], 1)
        res[f"rtt_load_{where}_p99_us"] = fig([pct(r, 99) for r in load], 1)
    res["added_rtt_us"] = fig([med(a) - med(b) for a, b in
                               zip(raw["rtt_idle_overlay_us"], raw["rtt_idle_underlay_us"])], 1)
    res["ready_ms"] = fig(raw["ready_ms"], 2)
    res["ready_service_ms"] = fig(raw["service_ms_tunnel"], 2)
    res["ready_no_tunnel_service_ms"] = fig(raw["service_ms_no_tunnel"], 2)
    res["init_overhead_ms"] = fig(raw["init_overhead_ms"], 3)
    res["init_overhead_fastest_ms"] = fig(raw["init_overhead_min_ms"], 3)
    res["true_alone_ms"] = fig(raw["true_alone_ms"], 3)
    res["recovery_ms"] = fig(raw["recovery_ms"], 1)
    res["recovery_backoff_first_step_ms"] = 100
    res["rss_idle_kb"] = fig(raw["rss_idle_hwm_kb"], 0)
    res["rss_idle_now_kb"] = fig(raw["rss_idle_kb"], 0)
    res["rss_load_kb"] = max(raw["rss_load_hwm_kb"])
    res["router_kb_per_session"] = fig(raw["router_kb_per_session"], 2)
    res["router_sessions"] = raw["router_sessions"]
    res["router_rss_0_kb"] = fig(raw["router_rss_0_kb"], 0)
    res["router_rss_n_kb"] = fig(raw["router_rss_n_kb"], 0)
    res["binary_bytes"] = raw["binary_bytes"]
    res["router_binary_bytes"] = raw["router_binary_bytes"]
    ov = m(res, "overlay_tcp_gbps")
    res["overlay_vs_tls_stream"] = round(ov / m(res, "tls_stream_gbps"), 3)
    res["overlay_vs_one_record"] = round(ov / m(res, "one_record_per_packet_gbps"), 3)
    res["overlay_vs_underlay"] = round(ov / m(res, "underlay_tcp_gbps"), 4)
    res["targets"] = {}
    for name, key, op, limit in TARGETS:
        value = m(res, key)
        ok = value >= limit if op == ">=" else value < limit
        res["targets"][key] = {"target": f"{op} {limit}", "value": value, "met": ok, "what": name}
    res["runs"] = raw["runs"]
    res["iperf_seconds"] = raw["iperf_seconds"]
    res["bench_seconds"] = raw.get("bench_seconds")
    return res


def _n(x):
    if isinstance(x, int) or abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


ROWS = [
    # label, key, unit, baseline key (same run), baseline label
    ("TCP A->B over the ENF (iperf3, 1 stream)", "overlay_tcp_gbps", "Gbit/s",
     "tls_stream_gbps", "one TLS stream"),
    ("  same, B->A", "overlay_tcp_reverse_gbps", "Gbit/s", "underlay_tcp_reverse_gbps", "underlay"),
    ("  same, 4 streams", "overlay_tcp_4_streams_gbps", "Gbit/s", "underlay_tcp_4_streams_gbps",
     "underlay"),
    ("  64-byte UDP", "overlay_udp64_pps", "packets/s", "underlay_udp64_pps", "underlay"),
    ("TCP A->B, one record per packet (reference design)", "one_record_per_packet_gbps",
     "Gbit/s", "overlay_tcp_gbps", "enf-init"),
    ("TCP A->B over the underlay (veth, MTU 1280)", "underlay_tcp_gbps", "Gbit/s", None, None),
    ("one rustls TLS stream, loopback, 16 KiB writes", "tls_stream_gbps", "Gbit/s", None, None),
    ("  4 TLS streams", "tls_stream_4_streams_gbps", "Gbit/s", None, None),
    ("CPU per GB: enf-init sending", "cpu_s_per_gb_enf_init_sender", "s/GB",
     "cpu_s_per_gb_tls_stream_sender", "TLS sender"),
    ("CPU per GB: enf-init receiving", "cpu_s_per_gb_enf_init_receiver", "s/GB",
     "cpu_s_per_gb_tls_stream_receiver", "TLS receiver"),
    ("CPU per GB: enf-router", "cpu_s_per_gb_router", "s/GB", None, None),
    ("CPU per GB: one-record client sending", "cpu_s_per_gb_one_record_sender", "s/GB",
     "cpu_s_per_gb_enf_init_sender", "enf-init"),
    ("ping RTT over the ENF, idle (median)", "rtt_idle_overlay_us", "us", "rtt_idle_underlay_us",
     "underlay"),
    ("  idle, p99", "rtt_idle_overlay_p99_us", "us", "rtt_idle_underlay_p99_us", "underlay"),
    ("  under load (median)", "rtt_load_overlay_us", "us", "rtt_load_underlay_us", "underlay"),
    ("  under load, p99", "rtt_load_overlay_p99_us", "us", "rtt_load_underlay_p99_us", "underlay"),
    ("added RTT at idle (overlay - underlay)", "added_rtt_us", "us", None, None),
    ("start to status up (ready)", "ready_ms", "ms", "ready_no_tunnel_service_ms",
     "--no-tunnel start"),
    ("init overhead (enf-init -- /bin/true)", "init_overhead_ms", "ms", "true_alone_ms",
     "/bin/true alone"),
    ("  fastest of 100 each", "init_overhead_fastest_ms", "ms", None, None),
    ("recovery after a router restart", "recovery_ms", "ms", "recovery_backoff_first_step_ms",
     "back-off 1st step"),
    ("enf-init peak RSS, tunnel up, idle", "rss_idle_kb", "kB", None, None),
    ("enf-init peak RSS after the load runs", "rss_load_kb", "kB", None, None),
    ("enf-router RSS per idle session", "router_kb_per_session", "kB", None, None),
    ("static enf-init", "binary_bytes", "bytes", None, None),
    ("static enf-router", "router_binary_bytes", "bytes", None, None),
]


def table(res):
    lines = ["| figure | median | min | max | unit | same-run baseline | ratio |",
             "|---|---:|---:|---:|---|---|---:|"]
    for label, key, unit, base, base_label in ROWS:
        v = res[key]
        if isinstance(v, dict):
            cells = [_n(v["median"]), _n(v["min"]), _n(v["max"])]
        else:
            cells = [_n(v), "", ""]
        b, ratio = "", ""
        if base:
            bv = m(res, base)
            b = f"{base_label}: {_n(bv)}"
            if bv:
                ratio = f"{m(res, key) / bv:.2f}"
        lines.append(f"| {label} | {' | '.join(cells)} | {unit} | {b} | {ratio} |")
    lines += ["", "| target | value | met |", "|---|---:|---|"]
    for key, t in res["targets"].items():
        lines.append(f"| {t['what']} | {_n(t['value'])} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def _bars(res, title, rows, unit, lo, hi, y0, width=760):
    """A horizontal log-scale bar chart with min-max whiskers; rows: (label, key, colour)."""
    left, right, bar, gap = 250, 90, 16, 8
    plot = width - left - right
    x = lambda v: left + plot * (math.log10(max(v, lo)) - math.log10(lo)) / (  # noqa: E731
        math.log10(hi) - math.log10(lo))
    out = [f'<text x="10" y="{y0 + 16}" font-size="14" font-weight="bold">{title}</text>']
    top = y0 + 30
    decade = lo
    while decade <= hi * 1.0001:
        gx = x(decade)
        out.append(f'<line x1="{gx:.1f}" y1="{top - 4}" x2="{gx:.1f}" '
                   f'y2="{top + len(rows) * (bar + gap)}" stroke="#ddd"/>')
        out.append(f'<text x="{gx:.1f}" y="{top + len(rows) * (bar + gap) + 12}" font-size="10" '
                   f'text-anchor="middle" fill="#666">{decade:g}</text>')
        decade *= 10
    out.append(f'<text x="{left + plot / 2}" y="{top + len(rows) * (bar + gap) + 26}" '
               f'font-size="11" text-anchor="middle" fill="#444">{unit} (log scale)</text>')
    for i, (label, key, colour) in enumerate(rows):
        v = res[key]
        y = top + i * (bar + gap)
        out.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" '
                   f'text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{x(v["median"]) - left:.1f}" height="{bar}" '
                   f'fill="{colour}"/>')
        wy = y + bar / 2
        x0, x1 = x(v["min"]), x(v["max"])
        out.append(f'<line x1="{x0:.1f}" y1="{wy}" x2="{x1:.1f}" y2="{wy}" stroke="#000"/>')
        for xx in (x0, x1):
            out.append(f'<line x1="{xx:.1f}" y1="{wy - 4}" x2="{xx:.1f}" y2="{wy + 4}" '
                       f'stroke="#000"/>')
        out.append(f'<text x="{max(x1, x(v["median"])) + 5:.1f}" y="{y + 12}" '
                   f'font-size="11">{_n(v["median"])}</text>')
    return out, top + len(rows) * (bar + gap) + 40


def svg(res):
    enf, base, ref = "#2b6cb0", "#a0aec0", "#dd6b20"
    through = [
        ("overlay, enf-init, 1 stream A->B", "overlay_tcp_gbps", enf),
        ("overlay, enf-init, 1 stream B->A", "overlay_tcp_reverse_gbps", enf),
        ("overlay, enf-init, 4 streams", "overlay_tcp_4_streams_gbps", enf),
        ("overlay, one record per packet", "one_record_per_packet_gbps", ref),
        ("one TLS stream (loopback)", "tls_stream_gbps", base),
        ("4 TLS streams (loopback)", "tls_stream_4_streams_gbps", base),
        ("underlay veth, 1 stream", "underlay_tcp_gbps", base),
        ("underlay veth, 4 streams", "underlay_tcp_4_streams_gbps", base),
    ]
    latency = [
        ("overlay idle, median", "rtt_idle_overlay_us", enf),
        ("overlay idle, p99", "rtt_idle_overlay_p99_us", enf),
        ("underlay idle, median", "rtt_idle_underlay_us", base),
        ("underlay idle, p99", "rtt_idle_underlay_p99_us", base),
        ("overlay under load, median", "rtt_load_overlay_us", enf),
        ("overlay under load, p99", "rtt_load_overlay_p99_us", enf),
        ("underlay under load, median", "rtt_load_underlay_us", base),
        ("underlay under load, p99", "rtt_load_underlay_p99_us", base),
    ]
    hi_t = 10 ** math.ceil(math.log10(max(res[k]["max"] for _, k, _ in through)))
    hi_l = 10 ** math.ceil(math.log10(max(res[k]["max"] for _, k, _ in latency)))
    a, y = _bars(res, "TCP throughput (iperf3; median, whiskers min-max)", through, "Gbit/s",
                 0.1, hi_t, 0)
    b, y = _bars(res, "ping round-trip time A->B", latency, "microseconds", 10, hi_l, y)
    note = (f'<text x="10" y="{y}" font-size="10" fill="#666">{res["runs"]} runs per figure; '
            f'blue: through enf-init and enf-router; orange: one TLS record per packet; '
            f'grey: baselines from the same run</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{y + 12}" '
            f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n'
            + "\n".join(a + b + [note]) + "\n</svg>\n")


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        r = figures(json.load(f))
    print(table(r))
