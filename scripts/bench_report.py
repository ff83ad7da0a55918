#!/usr/bin/env python3
"""Tables and a chart from criterion's results for the fairsync benchmarks.

Reads every `new/benchmark.json` + `new/estimates.json` pair under the
criterion directory (what `cargo bench` leaves in target/criterion), takes
the median time of each benchmark, divides it by the benchmark's throughput
(elements) to get a time per operation, and compares fairsync with each
peer run in the same group and for the same parameter:

    ratio = fairsync median / peer median   (< 1: fairsync is faster)

Writes an SVG bar chart of the ratios (log scale) and, with --markdown,
prints Markdown tables of the medians and ratios. With --spread DIR...,
it also prints, per workload, the range each ratio took over those other
runs' criterion directories (copies of target/criterion from earlier runs),
a measure of run-to-run noise.

Only the Python 3 standard library is used.

    python3 scripts/bench_report.py                      # writes docs/benchmarks.svg
    python3 scripts/bench_report.py --markdown           # also prints the tables
    python3 scripts/bench_report.py --criterion DIR --svg OUT.svg
    python3 scripts/bench_report.py --markdown --spread run1/criterion run2/criterion
"""

import argparse
import json
import math
import os
import sys
from collections import OrderedDict
from xml.sax.saxutils import escape

SUBJECT = "fairsync"

# Peers in the order they appear in tables and the chart, with bar colours.
PEERS = OrderedDict(
    [
        ("tokio", "#4e79a7"),
        ("async-lock", "#f28e2b"),
        ("futures", "#59a14f"),
        ("event-listener", "#b07aa1"),
        ("std", "#9c755f"),
        ("parking_lot", "#bab0ac"),
    ]
)

# Groups in report order: (group id, title, parameter label format).
GROUPS = [
    ("w1_mutex_uncontended", "W1 Mutex, uncontended lock + unlock", None),
    ("w2_semaphore_uncontended", "W2 Semaphore, uncontended acquire + release", None),
    ("w3_mutex_tokio_no_await", "W3 Mutex, contended, tokio (2 workers), no await inside", "{} tasks"),
    ("w3_mutex_tokio_await", "W3 Mutex, contended, tokio (2 workers), yield inside", "{} tasks"),
    ("w3_mutex_async_std_await", "W3 Mutex, contended, async-std (2 threads), yield inside", "{} tasks"),
    ("w4_semaphore_bound", "W4 Semaphore bounding 10,000 tasks", "{} permits"),
    ("w5_semaphore_weighted", "W5 Semaphore, weighted acquires of 1..8 of 16 permits", None),
    ("w7_mutex_blocking", "W7 Mutex, 2 threads, blocking API", None),
]


def default_criterion_dir():
    target = os.environ.get("CARGO_TARGET_DIR")
    if not target:
        target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target")
    return os.path.normpath(os.path.join(target, "criterion"))


def load(criterion_dir):
    """{(group, value): {peer: ns per operation}}"""
    results = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new":
            continue
        if "benchmark.json" not in files or "estimates.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(root, "estimates.json")) as f:
            estimates = json.load(f)
        median = estimates["median"]["point_estimate"]
        throughput = bench.get("throughput") or {}
        elements = throughput.get("Elements") or throughput.get("Bytes") or 1
        key = (bench["group_id"], bench.get("value_str") or "")
        results.setdefault(key, {})[bench["function_id"]] = median / elements
    return results


def cases(results):
    """[(group id, title, parameter label, value, {peer: ns})] in report order."""
    out = []
    for group, title, label in GROUPS:
        values = [value for (g, value) in results if g == group]
        values.sort(key=lambda v: (len(v), v))
        for value in values:
            param = label.format(value) if label and value else ""
            out.append((group, title, param, value, results[(group, value)]))
    return out


def fmt_time(ns):
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if ns >= 1e3:
        return "%.2f µs" % (ns / 1e3)
    if ns >= 100:
        return "%.0f ns" % ns
    return "%.1f ns" % ns


def fmt_ratio(ratio):
    return "%.2f" % ratio if ratio < 10 else "%.1f" % ratio


def markdown(all_cases):
    lines = []
    current = None
    for group, title, param, _value, medians in all_cases:
        peers = [p for p in PEERS if any(p in m for g, _t, _p, _v, m in all_cases if g == group)]
        if group != current:
            current = group
            lines.append("")
            lines.append("**%s** (median time per operation; ratio = fairsync / peer)" % title)
            lines.append("")
            header = ["", SUBJECT] + peers + ["fairsync / " + p for p in peers]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        row = [param or "-"]
        ours = medians.get(SUBJECT)
        row.append(fmt_time(ours) if ours else "–")
        for p in peers:
            row.append(fmt_time(medians[p]) if p in medians else "–")
        for p in peers:
            row.append(fmt_ratio(ours / medians[p]) if ours and p in medians else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines).lstrip("\n") + "\n"


def spread(all_cases, others):
    """Markdown: per case, min–max of fairsync / peer over this run and `others`."""
    lines = [
        "",
        "**Run-to-run spread** of fairsync / peer over %d runs (min–max)" % (1 + len(others)),
        "",
    ]
    peers = [p for p in PEERS if any(p in m for *_rest, m in all_cases)]
    lines.append("| workload | " + " | ".join(peers) + " |")
    lines.append("|---|" + "|".join(["---:"] * len(peers)) + "|")
    for group, title, param, value, medians in all_cases:
        runs = [medians] + [o.get((group, value), {}) for o in others]
        cells = []
        for p in peers:
            ratios = [r[SUBJECT] / r[p] for r in runs if SUBJECT in r and p in r]
            if not ratios:
                cells.append("–")
            elif len(ratios) == 1:
                cells.append(fmt_ratio(ratios[0]))
            else:
                cells.append("%s–%s" % (fmt_ratio(min(ratios)), fmt_ratio(max(ratios))))
        name = group.split("_")[0].upper() + " " + " ".join(group.split("_")[1:])
        lines.append("| %s%s | %s |" % (name, " (%s)" % param if param else "", " | ".join(cells)))
    return "\n".join(lines) + "\n"


def svg(all_cases):
    rows = []  # (kind, text or (peer, ratio))
    for group, title, param, _value, medians in all_cases:
        ours = medians.get(SUBJECT)
        if not ours:
            continue
        bars = [(p, ours / medians[p]) for p in PEERS if p in medians]
        if not bars:
            continue
        label = title if not param else "%s — %s" % (title, param)
        rows.append(("label", label))
        for bar in bars:
            rows.append(("bar", bar))
        rows.append(("gap", None))

    ratios = [r for kind, v in rows if kind == "bar" for r in [v[1]]]
    span = max([abs(math.log2(r)) for r in ratios] + [1.0])
    # Axis from 2^-span to 2^span, at most 1/16x..16x so that a few extreme
    # ratios do not squash the rest; bars beyond it end at the edge and
    # their label gets a "+".
    span = min(max(1, math.ceil(span)), 4)

    width, left, right, top = 960, 150, 60, 78
    bar_h, label_h, gap_h = 13, 20, 6
    plot_w = width - left - right
    height = top + sum({"label": label_h, "bar": bar_h + 2, "gap": gap_h}[k] for k, _ in rows) + 40

    def x_of(ratio):
        lg = max(-span, min(span, math.log2(ratio)))
        return left + (lg + span) / (2 * span) * plot_w

    out = []
    out.append(
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">' % (width, height, width, height)
    )
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.append(
        '<text x="%d" y="22" font-size="15" font-weight="bold">fairsync time / peer time (median, log scale)</text>'
        % left
    )
    out.append(
        '<text x="%d" y="40" fill="#444">left of 1×: fairsync faster; right of 1×: the peer is faster. '
        "Same run, same machine.</text>" % left
    )
    # Legend.
    lx = left
    for peer, colour in PEERS.items():
        if not any(kind == "bar" and v[0] == peer for kind, v in rows):
            continue
        out.append('<rect x="%d" y="50" width="11" height="11" fill="%s"/>' % (lx, colour))
        out.append('<text x="%d" y="60">%s</text>' % (lx + 15, escape(peer)))
        lx += 30 + 7 * len(peer)
    # Grid.
    bottom = height - 30
    for e in range(-span, span + 1):
        x = x_of(2.0**e)
        strong = e == 0
        out.append(
            '<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%s"/>'
            % (x, top - 6, x, bottom, "#333" if strong else "#ddd", "1.2" if strong else "1")
        )
        text = "1×" if e == 0 else ("%d×" % 2**e if e > 0 else "1/%d×" % 2 ** (-e))
        out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>' % (x, bottom + 14, text))
    # Rows.
    y = top
    for kind, value in rows:
        if kind == "label":
            out.append('<text x="8" y="%d" font-weight="bold">%s</text>' % (y + 14, escape(value)))
            y += label_h
        elif kind == "bar":
            peer, ratio = value
            x0, x1 = x_of(1.0), x_of(ratio)
            lo, hi = min(x0, x1), max(x0, x1)
            out.append('<text x="%d" y="%d" text-anchor="end" fill="#333">%s</text>' % (left - 6, y + 10, escape(peer)))
            out.append(
                '<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>fairsync / %s = %s</title></rect>'
                % (lo, y, max(hi - lo, 1.0), bar_h, PEERS[peer], escape(peer), fmt_ratio(ratio))
            )
            clipped = abs(math.log2(ratio)) > span
            text = fmt_ratio(ratio) + ("+" if clipped else "")
            if x1 >= x0:
                out.append('<text x="%.1f" y="%d">%s</text>' % (hi + 3, y + 10, text))
            else:
                out.append('<text x="%.1f" y="%d" text-anchor="end">%s</text>' % (lo - 3, y + 10, text))
            y += bar_h + 2
        else:
            y += gap_h
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--criterion", default=default_criterion_dir(), help="criterion output directory")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--svg", default=os.path.join(here, "..", "docs", "benchmarks.svg"), help="chart to write")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables to stdout")
    parser.add_argument("--spread", nargs="+", default=[], metavar="DIR", help="criterion directories of other runs")
    args = parser.parse_args()

    results = load(args.criterion)
    if not results:
        sys.exit("no criterion results under %s: run `cargo bench` first" % args.criterion)
    all_cases = cases(results)
    if args.markdown:
        sys.stdout.write(markdown(all_cases))
    if args.spread:
        sys.stdout.write(spread(all_cases, [load(d) for d in args.spread]))
    os.makedirs(os.path.dirname(os.path.abspath(args.svg)), exist_ok=True)
    with open(args.svg, "w") as f:
        f.write(svg(all_cases))
    print("wrote %s" % os.path.normpath(args.svg), file=sys.stderr)


if __name__ == "__main__":
    main()
