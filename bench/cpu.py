"""CPU accounting for bench/run.sh: one snapshot as a JSON line.

    python bench/cpu.py PID  ->  {"wall": s, "busy": s, "total": s, "server": s}

``busy``/``total`` are machine-wide CPU seconds from /proc/stat (all cores),
``server`` is the user+system CPU seconds of PID and all its descendants
(uvicorn workers). Differences of two snapshots give how many cores the
server used during a wrk run, its CPU time per request, and how busy the rest
of the machine was (wrk itself plus anything else running on it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def machine() -> tuple[float, float]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # without guest time (already in user)
    return (total - idle) / TICK, total / TICK


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree_cpu(pid: int) -> float:
    tree = children()
    todo, seconds = [pid], 0.0
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        todo.extend(tree.get(p, []))
    return seconds


def main() -> None:
    busy, total = machine()
    server = process_tree_cpu(int(sys.argv[1]))
    print(json.dumps({"wall": time.monotonic(), "busy": busy, "total": total,
                      "server": server}))


if __name__ == "__main__":
    main()
