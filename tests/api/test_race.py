"""Concurrent claims: of many overlapping realm requests exactly one wins, whether
they arrive as concurrent HTTP requests or from threads with their own sessions
(on SQLite and on PostgreSQL alike)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import select

from dnsgate.db.models import Realm
from dnsgate.domain import ownership
from dnsgate.domain.errors import Conflict, Denied
from dnsgate.services import realms, records
from dnsgate.services.context import RequestContext
from dnsgate.services.records import ChangeInput
from tests.support.api import soa_serial, zone_state
from tests.support.factories import bearer

N = 20
# every one of these claims overlaps every other (checked below)
CLAIMS = [("a", "subtree"), ("b.a", "host"), ("a", "below"), ("b.a", "subtree"),
          ("_acme-challenge.b.a", "host")]


def test_the_claims_overlap_pairwise():
    zone = "example.test"
    for (a, a_kind), (b, b_kind) in itertools.combinations(CLAIMS, 2):
        assert ownership.claims_meet(f"{a}.{zone}", a_kind, f"{b}.{zone}", b_kind, zone), (a, b)


def live_realms(env) -> list[Realm]:
    with env.db.read() as session:
        return list(session.scalars(select(Realm).where(Realm.status.in_(realms.LIVE))))


def run_in_threads(fn, args):
    barrier = threading.Barrier(len(args))

    def start(arg):
        barrier.wait(timeout=30)
        try:
            return fn(arg), None
        except (Conflict, Denied) as exc:
            return None, exc

    with ThreadPoolExecutor(max_workers=len(args)) as pool:
        return list(pool.map(start, args))


async def test_concurrent_http_claims_exactly_one_wins(client, world, env):
    await world.zone("example.test", visibility="public", approval="auto")
    keys = [world.api_key(world.account(f"racer{i}")) for i in range(N)]

    async def claim(i):
        name, kind = CLAIMS[i % len(CLAIMS)]
        return await client.post("/api/v1/account/realms",
                                  json={"zone": "example.test", "name": name, "kind": kind},
                                  headers=bearer(keys[i]))

    responses = await asyncio.gather(*(claim(i) for i in range(N)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (N - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"conflict"}
    assert len(live_realms(env)) == 1


async def test_concurrent_claims_from_threads_exactly_one_wins(world, env):
    await world.zone("example.test", visibility="public", approval="admin")
    callers = [world.caller(world.account(f"racer{i}")) for i in range(N)]

    def claim(i):
        name, kind = CLAIMS[i % len(CLAIMS)]
        return realms.request_realm(env, RequestContext(source_ip="127.0.0.1"),
                                    caller=callers[i], zone="example.test", name=name,
                                    kind=kind).id

    results = await asyncio.to_thread(run_in_threads, claim, list(range(N)))
    winners = [realm_id for realm_id, error in results if error is None]
    losers = [error for _, error in results if error is not None]
    assert len(winners) == 1, results
    assert all(isinstance(e, Conflict) for e in losers), losers
    (live,) = live_realms(env)
    assert live.id == winners[0]
    assert live.status == "pending"


async def test_concurrent_claims_of_one_account_respect_the_quota(world, env):
    await world.zone("example.test", visibility="public", approval="auto", realm_quota=1)
    caller = world.caller(world.account("alice"))

    def claim(i):
        return realms.request_realm(env, RequestContext(), caller=caller, zone="example.test",
                                    name=f"host{i}", kind="host").id

    results = await asyncio.to_thread(run_in_threads, claim, list(range(N)))
    assert len([r for r, e in results if e is None]) == 1
    assert {e.code for _, e in results if e is not None} == {"zone_policy"}
    assert len(live_realms(env)) == 1


async def test_concurrent_writes_to_one_zone_lose_nothing(client, world, env, admin):
    await world.zone("example.test")
    caller = world.caller(world.account("root2", admin=True))
    before = soa_serial(await zone_state(client, admin))
    count = 10

    def write(i):
        change = ChangeInput("upsert", f"h{i}.lab.example.test", "A", None, [f"192.0.2.{i}"])
        return asyncio.run(records.apply_changes(env, RequestContext(), caller=caller,
                                                 zone="example.test", inputs=[change]))

    results = await asyncio.to_thread(run_in_threads, write, list(range(count)))
    assert all(error is None for _, error in results), results
    state = await zone_state(client, admin)
    assert sorted(r["name"] for r in state if r["type"] == "A") == sorted(
        f"h{i}.lab.example.test" for i in range(count))
    today = int(datetime.now(UTC).strftime("%Y%m%d")) * 100
    assert soa_serial(state) == max(before + count, today + count - 1)
