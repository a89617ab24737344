"""In-process microbenchmark: token check + ``decide()``, in microseconds.

(a) pure: parse the token text, HMAC-verify its secret against the stored
    hash (``domain/tokens.py``) and ``decide()`` (``domain/policy.py``) an
    update of ``h{i}.bench.test/A`` on scope objects loaded beforehand;
(b) with the database: ``services.auth.authenticate_token`` against the
    seeded SQLite database (one indexed join over the 100k tokens, in a fresh
    read session per iteration as the API dependency does) + ``decide()``.

Each iteration uses a different token (a random sample of the seeded ones).
Also prints the parts of (a) and (b) separately, to show where the time goes.

    DNSGATE_SECRET_KEY=... python bench/decide_bench.py --data-dir /tmp/bench-data
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from dnsgate.app import build_env
from dnsgate.config import Settings
from dnsgate.db.models import Token
from dnsgate.domain import tokens
from dnsgate.domain.policy import decide
from dnsgate.services.auth import authenticate_token
from dnsgate.services.context import Caller, Env

SOURCE = ipaddress.ip_address("127.0.0.1")


def measure(fn: Callable[[int], object], iterations: int, warmup: int = 500) -> list[int]:
    for i in range(warmup):
        fn(i)
    samples = [0] * iterations
    clock = time.perf_counter_ns
    for i in range(iterations):
        t0 = clock()
        fn(i)
        samples[i] = clock() - t0
    return samples


def stats(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": statistics.median(ordered) / 1000,
        "p99_us": ordered[int(len(ordered) * 0.99) - 1] / 1000,
        "mean_us": statistics.fmean(ordered) / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--tokens-file", type=Path, default=None)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    settings = Settings(data_dir=args.data_dir, database_url=None)
    env: Env = build_env(settings)
    lines = (args.tokens_file or args.data_dir / "tokens.txt").read_text().splitlines()
    rng = random.Random(1)
    sample = [line.split() for line in rng.sample(lines, min(args.iterations, len(lines)))]
    texts = [t for t, _ in sample]
    hosts = [h for _, h in sample]
    n = len(sample)

    # Load the scope objects and stored hashes once, outside the timed loop.
    callers: list[Caller] = []
    with env.db.read() as session:
        for text in texts:
            callers.append(authenticate_token(env, session, text))
        ids = [tokens.parse(t) for t in texts]
        hashes = dict(session.execute(select(Token.id, Token.secret_hash).where(
            Token.id.in_([p[0] for p in ids if p]))).all())
    stored = [hashes[p[0]] for p in ids if p]
    key = env.key
    now = datetime.now(UTC)

    def token_check(i: int) -> None:
        k = i % n
        parsed = tokens.parse(texts[k])
        assert parsed is not None
        if not tokens.verify_secret(key, parsed[1], stored[k]):
            raise AssertionError("bad secret")

    def decide_only(i: int) -> None:
        k = i % n
        c = callers[k]
        assert c.token_zone is not None
        if not decide(c.principal, "update", c.token_zone.policy, hosts[k], "A", SOURCE, now):
            raise AssertionError("denied")

    def pure(i: int) -> None:
        k = i % n
        parsed = tokens.parse(texts[k])
        assert parsed is not None
        if not tokens.verify_secret(key, parsed[1], stored[k]):
            raise AssertionError("bad secret")
        c = callers[k]
        assert c.token_zone is not None
        if not decide(c.principal, "update", c.token_zone.policy, hosts[k], "A", SOURCE, now):
            raise AssertionError("denied")

    # The API's own path: a bare-connection read transaction per request
    # (api/deps.py get_caller).
    def db_auth_only(i: int) -> None:
        k = i % n
        with env.db.transaction(write=False) as tx:
            authenticate_token(env, tx, texts[k])

    def with_db(i: int) -> None:
        k = i % n
        with env.db.transaction(write=False) as tx:
            c = authenticate_token(env, tx, texts[k])
        assert c.token_zone is not None
        if not decide(c.principal, "update", c.token_zone.policy, hosts[k], "A", SOURCE,
                      datetime.now(UTC)):
            raise AssertionError("denied")

    stack = ExitStack()
    shared = stack.enter_context(env.db.read())

    def with_db_shared_session(i: int) -> None:
        k = i % n
        c = authenticate_token(env, shared, texts[k])
        assert c.token_zone is not None
        if not decide(c.principal, "update", c.token_zone.policy, hosts[k], "A", SOURCE,
                      datetime.now(UTC)):
            raise AssertionError("denied")

    cases = {
        "a_pure_hmac_plus_decide": pure,
        "b_db_authenticate_plus_decide": with_db,
        "part_parse_plus_hmac": token_check,
        "part_decide": decide_only,
        "part_db_authenticate_token": db_auth_only,
        "part_db_authenticate_shared_session_plus_decide": with_db_shared_session,
    }
    with stack:
        results = {name: stats(measure(fn, args.iterations)) for name, fn in cases.items()}
    env.db.dispose()
    if args.json:
        print(json.dumps({"iterations": args.iterations, "tokens_in_db": len(lines),
                          "results": results}))
        return
    print(f"decide_bench: {args.iterations} iterations, {len(lines)} tokens in the db")
    for name, r in results.items():
        print(f"  {name:52s} median {r['median_us']:8.1f} us   p99 {r['p99_us']:8.1f} us")


if __name__ == "__main__":
    main()
