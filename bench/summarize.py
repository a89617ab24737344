"""Summarize a bench/run.sh work dir: medians over the runs and the targets.

Reads the ``BENCH {...}`` lines that bench/put.lua and bench/health.lua print
(``wrk-*.txt``) and the JSON of bench/decide_bench.py (``decide.json``).

    python bench/summarize.py /tmp/dnsgate-bench.XXXX
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

TARGET_RPS = 1000.0
TARGET_P99_MS = 50.0
TARGET_DECIDE_US = 100.0


def bench_lines(path: Path) -> list[dict[str, float]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("BENCH "):
            out.append(json.loads(line[len("BENCH "):]))
    return out


def cpu_of(path: Path, requests: float) -> dict[str, float]:
    """Server cores, server CPU ms/request, wrk cores and other load during one wrk run."""
    snaps = Path(f"{path}.cpu")
    times = Path(f"{path}.time")
    if not snaps.exists():
        return {}
    a, b = (json.loads(line) for line in snaps.read_text().splitlines()[:2])
    wall = b["wall"] - a["wall"]
    server = b["server"] - a["server"]
    busy = (b["busy"] - a["busy"]) / wall
    wrk = 0.0
    if times.exists():
        for line in times.read_text().splitlines():
            if line.startswith("WRKCPU"):
                wrk = (float(line.split()[1]) + float(line.split()[2])) / wall
    return {
        "server_cores": server / wall,
        "server_cpu_ms_per_req": 1000 * server / requests if requests else 0.0,
        "wrk_cores": wrk,
        "other_cores": max(0.0, busy - server / wall - wrk),
        "cpus": (b["total"] - a["total"]) / wall,
    }


def median_of(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    work = Path(sys.argv[1])
    runs: dict[str, list[dict[str, float]]] = {"healthz": [], "put": []}
    for f in sorted(work.glob("wrk-run*-*.txt")):
        for row in bench_lines(f):
            row.update(cpu_of(f, row["requests"]))
            runs[str(row["kind"])].append(row)
    if not runs["put"] or not runs["healthz"]:
        print(f"summarize: no wrk results in {work}")
        return 1
    print(f"{'run':>5} {'kind':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
          f" {'non-200':>8} {'sock err':>8} {'srv cores':>9} {'srv CPU ms/req':>14}"
          f" {'wrk cores':>9} {'other cores':>11}")
    for kind in ("healthz", "put"):
        for i, r in enumerate(runs[kind], 1):
            print(f"{i:>5} {kind:8} {r['rps']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
                  f" {r['max_ms']:8.1f} {int(r['non200']):8d} {int(r['socket_errors']):8d}"
                  f" {r.get('server_cores', 0):9.2f} {r.get('server_cpu_ms_per_req', 0):14.3f}"
                  f" {r.get('wrk_cores', 0):9.2f} {r.get('other_cores', 0):11.2f}")
    keys = ("rps", "p50_ms", "p99_ms", "server_cores", "server_cpu_ms_per_req", "other_cores")
    med = {kind: {k: median_of(rows, k) if all(k in r for r in rows) else 0.0 for k in keys}
           for kind, rows in runs.items()}
    bad = sum(int(r["non200"]) for r in runs["put"] + runs["healthz"])
    errors = sum(int(r["socket_errors"]) for r in runs["put"] + runs["healthz"])
    put, floor = med["put"], med["healthz"]
    n = len(runs["put"])
    print()
    print(f"median of {n} run(s):")
    print(f"  healthz floor : {floor['rps']:9.1f} req/s  p50 {floor['p50_ms']:.2f} ms"
          f"  p99 {floor['p99_ms']:.2f} ms")
    print(f"  authorized PUT: {put['rps']:9.1f} upd/s  p50 {put['p50_ms']:.2f} ms"
          f"  p99 {put['p99_ms']:.2f} ms  ({100 * put['rps'] / floor['rps']:.1f}% of the floor)")
    print(f"  server CPU per request: PUT {put['server_cpu_ms_per_req']:.3f} ms,"
          f" healthz {floor['server_cpu_ms_per_req']:.3f} ms"
          f" (server used {put['server_cores']:.2f} / {floor['server_cores']:.2f} cores;"
          f" other processes {put['other_cores']:.2f} / {floor['other_cores']:.2f} cores)")
    print(f"  non-200 responses: {bad}   socket errors: {errors}")
    verdicts = [
        (f">= {TARGET_RPS:.0f} updates/s", put["rps"] >= TARGET_RPS, f"{put['rps']:.0f}"),
        (f"p99 <= {TARGET_P99_MS:.0f} ms", put["p99_ms"] <= TARGET_P99_MS,
         f"{put['p99_ms']:.1f} ms"),
        ("0 non-200", bad == 0, str(bad)),
    ]
    decide_file = work / "decide.json"
    if decide_file.exists():
        d = json.loads(decide_file.read_text())["results"]
        print("  token check + decide() (in-process):")
        for name, r in d.items():
            print(f"    {name:50s} median {r['median_us']:7.1f} us  p99 {r['p99_us']:7.1f} us")
        pure = d["a_pure_hmac_plus_decide"]["median_us"]
        with_db = d["b_db_authenticate_plus_decide"]["median_us"]
        verdicts.append((f"check+decide <= {TARGET_DECIDE_US:.0f} us (pure)",
                         pure <= TARGET_DECIDE_US, f"{pure:.1f} us"))
        verdicts.append((f"check+decide <= {TARGET_DECIDE_US:.0f} us (with DB lookup)",
                         with_db <= TARGET_DECIDE_US, f"{with_db:.1f} us"))
    print()
    print("targets:")
    for label, ok, value in verdicts:
        print(f"  [{'met' if ok else 'MISSED':6}] {label:42s} {value}")
    summary = {"median": med, "runs": runs, "non200": bad, "socket_errors": errors,
               "targets": {label: ok for label, ok, _ in verdicts}}
    (work / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
