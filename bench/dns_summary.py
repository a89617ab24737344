"""Summarize the dnsperf outputs of bench/dns_bench.sh.

    python bench/dns_summary.py WORK            # prints the tables, writes WORK/dns_summary.json
    python bench/dns_summary.py --qps WORK/x.txt  # prints the QPS of one dnsperf output

Raw outputs are named ``max-<server>-<run>.txt`` (unlimited rate) and
``rate-<server>-<qps>.txt`` (with ``-Q``).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

SERVERS = ("dnsgate", "pdns")


def parse(path: Path) -> dict[str, float]:
    text = path.read_text()

    def num(pattern: str) -> float:
        m = re.search(pattern, text)
        if not m:
            raise SystemExit(f"dns_summary: {path}: no match for {pattern!r}\n{text}")
        return float(m.group(1))

    return {
        "sent": num(r"Queries sent:\s+(\d+)"),
        "completed": num(r"Queries completed:\s+(\d+)"),
        "lost": num(r"Queries lost:\s+(\d+)"),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "lat_avg_ms": num(r"Average Latency \(s\):\s+([\d.]+)") * 1000,
        "lat_max_ms": num(r"Average Latency \(s\):\s+[\d.]+ \(min [\d.]+, max ([\d.]+)\)") * 1000,
        "lat_sd_ms": num(r"Latency StdDev \(s\):\s+([\d.]+)") * 1000,
        "noerror": float(m.group(1)) if (m := re.search(r"NOERROR (\d+)", text)) else 0.0,
        "nxdomain": float(m.group(1)) if (m := re.search(r"NXDOMAIN (\d+)", text)) else 0.0,
    }


def main() -> None:
    if sys.argv[1] == "--qps":
        print(int(parse(Path(sys.argv[2]))["qps"]))
        return
    work = Path(sys.argv[1])
    out: dict[str, object] = {}
    print("unlimited rate (dnsperf -T 1), per run:")
    print(f"  {'server':8} {'run':>3} {'QPS':>9} {'avg ms':>7} {'sd ms':>7} {'max ms':>7} "
          f"{'sent':>8} {'lost':>5} {'NXDOMAIN':>8}")
    medians: dict[str, dict[str, float]] = {}
    for server in SERVERS:
        runs = [parse(p) for p in sorted(work.glob(f"max-{server}-*.txt"))]
        for i, r in enumerate(runs, 1):
            print(f"  {server:8} {i:>3} {r['qps']:>9.0f} {r['lat_avg_ms']:>7.3f} "
                  f"{r['lat_sd_ms']:>7.3f} {r['lat_max_ms']:>7.1f} {r['sent']:>8.0f} "
                  f"{r['lost']:>5.0f} {r['nxdomain']:>8.0f}")
        if runs:
            medians[server] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            medians[server]["lost_total"] = sum(r["lost"] for r in runs)
    out["unlimited_median"] = medians
    print("medians:")
    for server, m in medians.items():
        print(f"  {server:8} QPS {m['qps']:.0f}  avg {m['lat_avg_ms']:.3f} ms  "
              f"sd {m['lat_sd_ms']:.3f} ms  lost (all runs) {m['lost_total']:.0f}")
    if len(medians) == 2:
        ratio = medians["dnsgate"]["qps"] / medians["pdns"]["qps"]
        out["ratio"] = ratio
        print(f"ratio dnsgate/pdns QPS: {ratio:.2f}  (target >= 0.50: "
              f"{'met' if ratio >= 0.5 else 'NOT met'})")
    rated: dict[str, dict[str, float]] = {}
    paths = sorted(work.glob("rate-*.txt"), key=lambda p: p.stat().st_mtime)
    if paths:
        print("fixed rate (dnsperf -Q):")
    for p in paths:
        _, server, qps = p.stem.split("-")
        r = parse(p)
        rated[f"{server}@{qps}"] = r
        print(f"  {server:8} -Q {qps:>6}: QPS {r['qps']:.0f}  avg {r['lat_avg_ms']:.3f} ms  "
              f"sd {r['lat_sd_ms']:.3f} ms  max {r['lat_max_ms']:.1f} ms  "
              f"sent {r['sent']:.0f}  lost {r['lost']:.0f}")
    out["fixed_rate"] = rated
    (work / "dns_summary.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
