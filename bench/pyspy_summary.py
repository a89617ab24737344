"""Summarize a py-spy raw profile (``py-spy record --format raw``) of the server.

    python bench/pyspy_summary.py PROFILE.txt [--match REGEX] [--top N]

Prints (1) own time by package (each sample goes to the package of its leaf
frame: sqlalchemy, fastapi/starlette/pydantic, uvicorn, limits, dnsgate,
stdlib asyncio/threading, ...), (2) inclusive time of dnsgate functions and of
selected framework functions, (3) the top leaf frames. Percentages are of all
samples kept: with ``--gil`` samples, that is of the time the GIL was held,
i.e. of the server's Python CPU. Idle time (thread-pool threads waiting for work,
the event loop waiting in epoll) and the process start-up (imports) are left out.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

PACKAGES = [
    ("sqlite3 (C, via SQLAlchemy)", r"do_execute \(|do_commit \(|do_rollback \(|fetchone \("),
    ("sqlalchemy", r"sqlalchemy/"),
    ("fastapi/starlette/pydantic", r"fastapi/|starlette/|pydantic/|anyio/"),
    ("uvicorn/httptools", r"uvicorn/|httptools"),
    ("limits (rate limiter)", r"limits/"),
    ("dnspython", r"dns/"),
    ("dnsgate", r"dnsgate/"),
    ("stdlib threading", r"threading\.py|queue\.py"),
    ("stdlib asyncio", r"asyncio/"),
    ("stdlib json", r"json/"),
    ("stdlib other", r"python3\.\d+/|<frozen"),
]
DEFAULT_MATCH = (r"dnsgate/|run_in_threadpool|solve_dependencies|serialize_response"
                 r"|_validate_value|Timer\.run|Session\.execute|SessionTransaction\.commit"
                 r"|_generate_cache_key|_compile_w_cache|httptools_impl")


def bucket(frame: str) -> str:
    for name, pattern in PACKAGES:
        if re.search(pattern, frame):
            return name
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--match", default=DEFAULT_MATCH,
                        help="regex of functions to show inclusive time for")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()

    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith("thread (")]
        if not frames:
            continue
        if any("_find_and_load" in f for f in frames):
            continue  # imports at start-up
        if re.search(r"Condition\.wait|Event\.wait|EpollSelector\.select", frames[-1]):
            continue  # idle: worker threads waiting for work, the event loop waiting for I/O
        n = int(count)
        total += n
        own[frames[-1]] += n
        packages[bucket(frames[-1])] += n
        for name in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            inclusive[name] += n
    if not total:
        raise SystemExit("no samples")
    print(f"{total} samples")
    print("\nown time by package (leaf frame):")
    for name, n in packages.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\ninclusive time:")
    for name, n in inclusive.most_common():
        if re.search(args.match, name):
            print(f"  {100 * n / total:5.1f}%  {name}")
    print(f"\ntop {args.top} leaf frames:")
    for name, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
