"""Where one authorized PUT spends its CPU, without the HTTP server and the network.

Drives the real ASGI app (``dnsgate.app.create_app`` inside its lifespan:
middleware, FastAPI routing and dependencies, services, SQLite, and the
embedded DNS server's commit hook unless ``--no-dns``) in-process with hand-built ASGI
requests, one at a time, against a seeded data dir (bench/seed.py), and reports

* the CPU time per PUT (``time.process_time``, all threads) and per
  ``GET /healthz``, i.e. what the app costs before uvicorn and the sockets;
* with ``--timers``: the thread CPU time (``time.thread_time_ns``, so other
  load on the machine hardly matters) of the main steps of a PUT, per request,
  measured by wrapping them at run time;
* with ``--yappi`` (``pip install yappi``): a CPU-clock profile over all
  threads (FastAPI runs sync dependencies such as ``get_caller`` in a thread
  pool), as inclusive CPU per request of the functions that matter.

    DNSGATE_SECRET_KEY=... python bench/profile_put.py --data-dir DIR [--yappi]

Each request uses a distinct token and changes its RRset (as bench/put.lua).

``--whatif`` patches the app at run time (nothing in src/ changes) to estimate
what a fix would save: ``no-threadpool`` runs FastAPI's sync dependencies
inline instead of in the thread pool (what ``async def`` dependencies would
do); ``no-limiter`` replaces the rate limiter with a no-op.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dnsgate.app import create_app
from dnsgate.config import Settings

# Inclusive CPU of these (module-path fragment, function name) is reported with --yappi.
WATCH = [
    ("dnsgate/edge/middleware.py", "EdgeMiddleware.__call__", "whole app (edge middleware down)"),
    ("fastapi/routing.py", "solve_dependencies", "FastAPI: solve dependencies (incl. auth)"),
    ("starlette/concurrency.py", "run_in_threadpool", "  thread-pool hand-offs (event loop side)"),
    ("dnsgate/api/deps.py", "get_caller", "  get_caller"),
    ("dnsgate/services/auth.py", "authenticate_token", "    authenticate_token"),
    ("dnsgate/db/engine.py", "Database.read", "  Database.read (session open/close)"),
    ("fastapi/routing.py", "_validate_value_with_model_field", "FastAPI: body validation"),
    ("fastapi/routing.py", "serialize_response", "FastAPI: response serialization"),
    ("dnsgate/api/records.py", "put_rrset", "endpoint put_rrset"),
    ("dnsgate/services/records.py", "apply_changes", "  apply_changes"),
    ("dnsgate/services/records.py", "resolve_zone", "    resolve_zone (own read session)"),
    ("dnsgate/services/records.py", "parse_changes", "    parse_changes (names, dnspython)"),
    ("dnsgate/throttling/ratelimit.py", "RateLimiter.hit", "    RateLimiter.hit"),
    ("dnsgate/services/records.py", "_preauthorize", "    _preauthorize (decide)"),
    ("dnsgate/services/records.py", "_apply_transactional", "    _apply_transactional"),
    ("dnsgate/db/engine.py", "Database.write", "      Database.write (BEGIN IMMEDIATE..COMMIT)"),
    ("dnsgate/backends/builtin.py", "BuiltinBackend.read_in", "      BuiltinBackend.read_in"),
    ("dnsgate/services/records.py", "_plan", "      _plan (decide)"),
    ("dnsgate/backends/builtin.py", "BuiltinBackend.apply_in", "      BuiltinBackend.apply_in"),
    ("dnsgate/services/audit.py", "record", "      audit.record"),
    ("dnsgate/services/records.py", "touch", "      touch (token last use)"),
    ("dnsgate/dnsserver/store.py", "ZoneStore.take", "      commit hook (DNS view)"),
    ("dnsgate/domain/policy.py", "decide", "decide() (all calls)"),
    ("sqlalchemy/engine/default.py", "DefaultDialect.do_execute", "sqlite3 cursor.execute (all)"),
    ("sqlalchemy/engine/base.py", "Connection.execute", "SQLAlchemy Connection.execute (all)"),
]


# (module, attribute, label) of the steps --timers wraps; inclusive thread CPU per request.
TIMERS = [
    ("dnsgate.services.auth", "authenticate_token", "auth: authenticate_token"),
    ("dnsgate.services.records", "apply_changes", "service: apply_changes"),
    ("dnsgate.services.records", "resolve_zone", "  resolve_zone"),
    ("dnsgate.services.records", "parse_changes", "  parse_changes (names, dnspython)"),
    ("dnsgate.throttling.ratelimit", "RateLimiter.hit", "  RateLimiter.hit"),
    ("dnsgate.services.records", "_preauthorize", "  _preauthorize (decide x1-2)"),
    ("dnsgate.services.records", "_apply_transactional", "  _apply_transactional (write txn)"),
    ("dnsgate.backends.builtin", "BuiltinBackend.read_in", "    BuiltinBackend.read_in (2 SELECT)"),
    ("dnsgate.services.records", "_plan", "    _plan (decide)"),
    ("dnsgate.backends.builtin", "BuiltinBackend.apply_in",
     "    BuiltinBackend.apply_in (SELECT+2 UPDATE)"),
    ("dnsgate.services.audit", "record", "    audit.record (INSERT)"),
    ("dnsgate.services.records", "touch", "    touch (UPDATE tokens)"),
    ("dnsgate.db.journal", "append", "    journal.append (UPDATE+INSERT)"),
    ("dnsgate.dnsserver.store", "ZoneStore.take",
     "    commit hook: stage the change in the DNS view"),
]
_spent: dict[str, int] = {}


def install_timers() -> None:
    import functools
    import importlib

    for module_name, attr, label in TIMERS:
        owner: Any = importlib.import_module(module_name)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)
        _spent[label] = 0

        def wrap(fn: Callable[..., Any], label: str = label) -> Callable[..., Any]:
            @functools.wraps(fn)
            def timed(*a: Any, **kw: Any) -> Any:
                t0 = time.thread_time_ns()
                try:
                    return fn(*a, **kw)
                finally:
                    _spent[label] += time.thread_time_ns() - t0

            @functools.wraps(fn)
            async def atimed(*a: Any, **kw: Any) -> Any:
                # Async: only the CPU of this thread between awaits is wanted; the
                # service functions here do not await anything but the thread pool.
                t0 = time.thread_time_ns()
                try:
                    return await fn(*a, **kw)
                finally:
                    _spent[label] += time.thread_time_ns() - t0

            return atimed if asyncio.iscoroutinefunction(fn) else timed

        setattr(owner, name, wrap(original))


def free_port() -> int:
    """A loopback port free for both TCP and UDP (for the embedded DNS server)."""
    import socket

    for _ in range(50):
        with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080), "state": {},
    }


async def call(app: Any, scope: dict[str, Any], body: bytes = b"") -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def put_request(token: str, host: str, x: int) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"records": [f"192.0.2.{x}"]}).encode()
    scope = http_scope("PUT", f"/api/v1/zones/bench.test/rrsets/{host}/A", [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ])
    return scope, body


async def drive(app: Any, make: Callable[[int], tuple[dict[str, Any], bytes]], n: int,
                expect: int = 200) -> tuple[list[int], float]:
    """Run n requests one after another; per-request wall ns and CPU s per request."""
    walls = []
    cpu0 = time.process_time()
    for i in range(n):
        scope, body = make(i)
        t0 = time.perf_counter_ns()
        status = await call(app, scope, body)
        walls.append(time.perf_counter_ns() - t0)
        if status != expect:
            raise SystemExit(f"request {i}: HTTP {status}")
    return walls, (time.process_time() - cpu0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--tokens-file", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--offset", type=int, default=50_000,
                        help="first token line to use (keep clear of the wrk runs' tokens)")
    parser.add_argument("--timers", action="store_true", help="thread CPU of the main steps")
    parser.add_argument("--yappi", action="store_true", help="CPU profile with yappi")
    parser.add_argument("--top", type=int, default=25, help="top functions by own CPU")
    parser.add_argument("--no-dns", action="store_true",
                        help="without the embedded DNS server (and its commit hook)")
    parser.add_argument("--whatif", default="",
                        help="comma-separated run-time patches: no-threadpool, no-limiter")
    args = parser.parse_args()
    whatif = {w for w in args.whatif.split(",") if w}
    if whatif - {"no-threadpool", "no-limiter"}:
        parser.error(f"unknown --whatif {args.whatif!r}")
    if "no-threadpool" in whatif:
        import fastapi.dependencies.utils as fastapi_deps

        async def inline(func: Callable[..., Any], *a: Any, **kw: Any) -> Any:
            return func(*a, **kw)

        fastapi_deps.run_in_threadpool = inline  # type: ignore[assignment]

    if args.timers:
        install_timers()
    settings = Settings(data_dir=args.data_dir, database_url=None, dns_host="127.0.0.1",
                        dns_port=0 if args.no_dns else free_port())
    app = create_app(settings, migrate_on_start=False)
    if "no-limiter" in whatif:
        class NoLimiter:
            def hit(self, name: str, key: str) -> None:
                return None

        object.__setattr__(app.state.env, "limiter", NoLimiter())  # Env is frozen
    lines = (args.tokens_file or args.data_dir / "tokens.txt").read_text().splitlines()
    pairs = [line.split() for line in lines]
    stamp = int(time.time()) % 200 + 20  # a value this run's PUTs set (not the seed's .0)

    def put(i: int) -> tuple[dict[str, Any], bytes]:
        token, host = pairs[(args.offset + i) % len(pairs)]
        return put_request(token, host, stamp + (i // len(pairs)) % 2)

    def health(_i: int) -> tuple[dict[str, Any], bytes]:
        return http_scope("GET", "/healthz", []), b""

    async def run() -> None:
        async with app.router.lifespan_context(app):
            await measure()

    async def measure() -> None:
        await drive(app, health, 200)
        await drive(app, lambda i: put(i + args.requests), 200)  # warm-up, other tokens
        h_walls, h_cpu = await drive(app, health, args.requests)
        if args.yappi:
            import yappi

            yappi.set_clock_type("cpu")
            yappi.start(builtins=False, profile_threads=True)
        for label in _spent:
            _spent[label] = 0
        p_walls, p_cpu = await drive(app, put, args.requests)
        if args.yappi:
            yappi.stop()
        label = f" [what-if: {', '.join(sorted(whatif))}]" if whatif else ""
        print(f"in-process, {args.requests} sequential requests each{label}:")
        print(f"  GET /healthz : median {statistics.median(h_walls) / 1000:8.1f} us wall,"
              f" {h_cpu * 1e6:8.1f} us CPU/request")
        print(f"  PUT (authorized update): median {statistics.median(p_walls) / 1000:8.1f}"
              f" us wall, {p_cpu * 1e6:8.1f} us CPU/request"
              f"{' (inflated by yappi)' if args.yappi else ''}")
        if args.timers:
            n = args.requests
            print("\nthread CPU per PUT of its steps (inclusive; nested steps are indented):")
            for label, ns in _spent.items():
                print(f"  {label:50s} {ns / n / 1000:8.1f} us  {100 * ns / n / 1e9 / p_cpu:5.1f}%")
            outside = p_cpu * 1e9 * n - sum(
                _spent[label] for _m, _a, label in (TIMERS[0], TIMERS[1], TIMERS[-1]))
            print(f"  {'rest: middleware, FastAPI, thread hand-offs, ...':50s}"
                  f" {outside / n / 1000:8.1f} us  {100 * outside / n / 1e9 / p_cpu:5.1f}%")
        if args.yappi:
            report(args.requests, args.top)

    asyncio.run(run())


def report(n: int, top: int) -> None:
    import yappi

    stats = yappi.get_func_stats()
    total_threads = sum(t.ttot for t in yappi.get_thread_stats())
    rows = list(stats)
    print(f"\nyappi CPU profile: {total_threads / n * 1e6:.0f} us CPU per PUT under the profiler"
          " (all threads); inclusive CPU per PUT and share of that total:")
    for frag, name, label in WATCH:
        ttot = sum(r.ttot for r in rows if r.name == name and frag in r.module)
        if ttot:
            print(f"  {label:52s} {ttot / n * 1e6:8.1f} us  {100 * ttot / total_threads:5.1f}%")
    print(f"\ntop {top} functions by own CPU (tsub):")
    for r in sorted(rows, key=lambda r: r.tsub, reverse=True)[:top]:
        module = r.module.split("site-packages/")[-1].split("/src/")[-1]
        print(f"  {r.tsub / n * 1e6:7.1f} us {100 * r.tsub / total_threads:5.1f}%"
              f"  {r.name}  ({module}:{r.lineno})  calls/req {r.ncall / n:.1f}")


if __name__ == "__main__":
    main()
