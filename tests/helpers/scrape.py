#!/usr/bin/python3
"""HTTP probes and Prometheus scrapes for the tests, with a real client parser.

usage: scrape.py get URL        -> prints "<status>\n<body>"
       scrape.py metrics URL    -> prints "name{k=v,...}\tvalue" per sample and
                                   "__type__FAMILY\tTYPE" per family

The metrics are parsed by prometheus_client's own text parser (Debian's
python3-prometheus-client), so a page that parses here parses for a real Prometheus.
"""
import sys
import urllib.error
import urllib.request


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    what, url = sys.argv[1], sys.argv[2]
    status, body = get(url)
    if what == "get":
        print(status)
        print(body, end="")
        return
    from prometheus_client.parser import text_string_to_metric_families

    if status != 200:
        sys.exit(f"scrape.py: {url} answered {status}: {body}")
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            key = f"{s.name}{{{labels}}}" if labels else s.name
            if key in out:
                sys.exit(f"scrape.py: duplicate sample {key}")
            out[key] = s.value
        out[f"__type__{family.name}"] = family.type
    for key in sorted(out):
        print(f"{key}\t{out[key]}")


if __name__ == "__main__":
    main()
