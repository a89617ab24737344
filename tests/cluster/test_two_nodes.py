"""Two ``dnsgate serve`` nodes on one PostgreSQL database and one Redis (issue 15, section 3).

Every test starts its own pair of real nodes (on a fresh copy of a template
database, with a fresh Redis) and drives them over loopback HTTP and DNS:

* concurrent writes to one zone through both nodes lose no update, on the
  built-in store and on a real PowerDNS: clients doing read-modify-write of
  their own names, and many writers of one RRset whose final value must be a
  write that no other write followed in real time;
* both nodes' DNS servers answer every acknowledged change within 1 s;
* a token's write limit and the sign-in limits count across both nodes
  (Redis), and so do the failed sign-ins of the login throttle (database);
* ``kill -9`` of one node under write load loses no acknowledged write, and
  the other node goes on serving.

Runs once, in the PostgreSQL pass (``postgres_only``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rdatatype
import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from dnsgate.backends.builtin import next_serial
from tests.cluster.conftest import BUILTIN_ZONE, PASSWORD, PDNS_ZONE, USER, Template
from tests.cluster.nodes import Cluster, Node
from tests.support import pdns

# The timeout covers the first test's share of the module's set-up (PostgreSQL,
# PowerDNS, the template database) on a busy machine. xdist_group: with
# ``--dist loadgroup`` the module's tests share one worker, so that set-up is
# made once.
pytestmark = [pytest.mark.postgres_only, pytest.mark.timeout(150),
              pytest.mark.xdist_group("cluster")]

DNS_DEADLINE = 1.0  # seconds from a write's 200 until every DNS server answers it
DNS_POLL = 0.02
#: Consecutive failures the login throttle lets pass before it makes a client
#: wait (``LoginThrottle(free=3)``, throttling/login_throttle.py).
FREE_FAILURES = 3


# --- clients -------------------------------------------------------------------


def http_client() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    return httpx.AsyncClient(timeout=20, trust_env=False, limits=limits)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rrset_url(node: Node, zone: str, name: str, rtype: str) -> str:
    return f"{node.base}/api/v1/zones/{zone}/rrsets/{name}/{rtype}"


async def dns_records(port: int, name: str, rtype: str) -> set[str] | None:
    """The records one DNS server answers (empty: none), None if it did not answer."""
    query = dns.message.make_query(name, rtype)
    try:
        response = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return None
    wanted = dns.rdatatype.from_text(rtype)
    return {rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted
            for rdata in rrset}


async def until_answered(ports: list[int], name: str, rtype: str, expected: set[str],
                         since: float, deadline: float = DNS_DEADLINE) -> float | None:
    """Seconds from ``since`` until every server in ``ports`` answers ``expected``
    (polling every 20 ms); None if one still does not at ``since + deadline``."""
    pending = set(ports)
    while True:
        for port in list(pending):
            if await dns_records(port, name, rtype) == expected:
                pending.discard(port)
        now = time.monotonic()
        if not pending:
            return now - since
        if now - since > deadline:
            return None
        await asyncio.sleep(DNS_POLL)


async def within(deadline: float, check: Callable[[], Awaitable[bool]]) -> float | None:
    """Seconds until ``check()`` holds (polled every 20 ms); None if not within ``deadline``."""
    since = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - since
        if time.monotonic() - since > deadline:
            return None
        await asyncio.sleep(DNS_POLL)


def query(cluster: Cluster, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of one query on the cluster's database, read past dnsgate."""
    url = make_url(cluster.database_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username,
                         dbname=url.database, connect_timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def db_serial(cluster: Cluster, zone: str) -> int:
    """The zone's SOA serial as the database holds it."""
    (row,) = query(cluster, "SELECT serial FROM builtin_zones WHERE name = %s", zone)
    return int(row[0])


def journal_seq(cluster: Cluster, zone: str) -> int:
    """The zone's newest journal sequence number."""
    (row,) = query(cluster, "SELECT COALESCE(MAX(c.seq), 0) FROM zone_changes c "
                   "JOIN zones z ON z.id = c.zone_id WHERE z.name = %s", zone)
    return int(row[0])


def assert_journal_chains(cluster: Cluster, zone: str, after_seq: int, acked: int,
                          final: dict[tuple[str, str], set[str]]) -> None:
    """The journal has one entry per acknowledged write, numbered without gaps;
    each RRset's entries form a chain (every change replaced what the one before
    it wrote; not checked for blind writes, which do not read the old state),
    and its last entry is what the RRset holds (``final``). A lost update (a
    write planned on a state another node had already replaced), or writes
    journaled in another order than they were applied, break one of these."""
    rows = query(cluster, """
        SELECT c.seq, c.name, c.rtype, c.old, c.new, c.old_known
        FROM zone_changes c JOIN zones z ON z.id = c.zone_id
        WHERE z.name = %s AND c.seq > %s ORDER BY c.seq""", zone, after_seq)
    assert [row[0] for row in rows] == list(range(after_seq + 1, after_seq + acked + 1))
    last: dict[tuple[str, str], set[str] | None] = {}
    for seq, name, rtype, old, new, old_known in rows:
        before = None if old is None else set(old["records"])
        if old_known:
            assert before == last.get((name, rtype)), (seq, name, rtype, before, last)
        last[(name, rtype)] = None if new is None else set(new["records"])
    assert last == final, (last, final)


# --- the write workloads of (a) and (b) -------------------------------------------


@dataclass
class Write:
    value: str
    started: float
    acked: float


@dataclass
class Workload:
    """What the clients did and saw."""

    acked: int = 0
    final_sets: dict[str, set[str]] = field(default_factory=dict)  # RMW name -> records
    same: list[Write] = field(default_factory=list)  # acknowledged writes of one RRset
    dns_lags: list[float] = field(default_factory=list)
    dns_late: list[str] = field(default_factory=list)


async def read_modify_write(http: httpx.AsyncClient, nodes: list[Node], token: str, zone: str,
                            client: int, rounds: int, dns_ports: list[int],
                            seen: Workload) -> None:
    """Client ``client`` grows the TXT RRset of its own name by one record per
    round, reading it first through one node and writing it through the other,
    and waits for every DNS server to answer each acknowledged state."""
    name = f"rmw{client}.lab.{zone}"
    for round_ in range(rounds):
        reader, writer = nodes[(client + round_) % 2], nodes[(client + round_ + 1) % 2]
        got = await http.get(rrset_url(reader, zone, name, "TXT"), headers=bearer(token))
        if round_ == 0:
            assert got.status_code == 404, got.text
            records: list[str] = []
        else:
            assert got.status_code == 200, got.text
            records = got.json()["records"]
        wanted = [*records, f'"c{client}-r{round_}"']
        put = await http.put(rrset_url(writer, zone, name, "TXT"), headers=bearer(token),
                             json={"ttl": 60, "records": wanted})
        assert put.status_code == 200, (writer.name, put.text)
        acked = time.monotonic()
        seen.acked += 1
        seen.final_sets[name] = set(wanted)
        lag = await until_answered(dns_ports, name, "TXT", set(wanted), since=acked)
        if lag is None:
            seen.dns_late.append(f"{name} round {round_} (written through {writer.name})")
        else:
            seen.dns_lags.append(lag)


async def same_rrset_writer(http: httpx.AsyncClient, nodes: list[Node], token: str, zone: str,
                            writer: int, writes: int, seen: Workload) -> None:
    """Writer ``writer`` replaces the one A RRset ``same.lab.<zone>`` ``writes``
    times, alternating nodes, each time with an address no other write uses."""
    name = f"same.lab.{zone}"
    for k in range(writes):
        node = nodes[(writer + k) % 2]
        value = f"198.51.{100 + writer}.{k + 1}"
        started = time.monotonic()
        put = await http.put(rrset_url(node, zone, name, "A"), headers=bearer(token),
                             json={"ttl": 60, "records": [value]})
        assert put.status_code == 200, (node.name, put.text)
        seen.same.append(Write(value, started, time.monotonic()))
        seen.acked += 1


def last_writes(writes: list[Write]) -> set[str]:
    """The values the RRset may hold after these acknowledged writes: those of
    writes that no other write started after in real time (a write that was
    acknowledged before another began must not win over it)."""
    latest_start = max(w.started for w in writes)
    return {w.value for w in writes if w.acked >= latest_start}


async def write_through_both(cluster: Cluster, token: str, zone: str, dns_ports: list[int],
                             *, clients: int = 10, rounds: int = 5, writers: int = 4,
                             writes: int = 10) -> Workload:
    seen = Workload()
    async with http_client() as http:
        await asyncio.gather(
            *(read_modify_write(http, cluster.nodes, token, zone, c, rounds, dns_ports, seen)
              for c in range(clients)),
            *(same_rrset_writer(http, cluster.nodes, token, zone, w, writes, seen)
              for w in range(writers)))
    assert seen.acked == clients * rounds + writers * writes
    return seen


async def assert_final_state(cluster: Cluster, token: str, zone: str, seen: Workload,
                             dns_ports: list[int]) -> str:
    """Both nodes' API and every DNS server hold every RMW record and one of
    the last writes of the shared RRset; returns that value."""
    allowed = last_writes(seen.same)
    same_name = f"same.lab.{zone}"
    finals: dict[str, str] = {}
    async with http_client() as http:
        for node in cluster.nodes:
            for name, records in seen.final_sets.items():
                got = await http.get(rrset_url(node, zone, name, "TXT"), headers=bearer(token))
                assert got.status_code == 200, got.text
                assert set(got.json()["records"]) == records, (node.name, name)
            got = await http.get(rrset_url(node, zone, same_name, "A"), headers=bearer(token))
            assert got.status_code == 200, got.text
            (finals[node.name],) = got.json()["records"]
    assert len(set(finals.values())) == 1, finals  # both nodes read one value ...
    final = finals[cluster.nodes[0].name]
    assert final in allowed, (final, sorted(allowed))  # ... that may be the last
    since = time.monotonic()
    lag = await until_answered(dns_ports, same_name, "A", {final}, since=since)
    assert lag is not None, f"DNS does not answer {same_name} A {final} within 1 s"
    return final


def final_rrsets(seen: Workload, zone: str, same: str) -> dict[tuple[str, str], set[str]]:
    """What every RRset the workload wrote holds at the end."""
    rrsets = {(name, "TXT"): records for name, records in seen.final_sets.items()}
    return {**rrsets, (f"same.lab.{zone}", "A"): {same}}


def report_dns_lags(seen: Workload) -> None:
    """Printed (``pytest -s`` or a failure shows it): how soon DNS followed."""
    lags = sorted(seen.dns_lags)
    if lags:
        print(f"DNS answered {len(lags)} acknowledged changes after: median "
              f"{1000 * lags[len(lags) // 2]:.0f} ms, max {1000 * lags[-1]:.0f} ms")


def assert_dns_in_time(seen: Workload) -> None:
    assert not seen.dns_late, (
        f"{len(seen.dns_late)} acknowledged changes not answered by every DNS server "
        f"within {DNS_DEADLINE} s: {seen.dns_late[:5]}")
    assert seen.dns_lags  # the check above looked at something


# --- (a) + (b): the built-in store -----------------------------------------------


async def test_builtin_writes_through_both_nodes_lose_nothing_and_both_dns_answer_in_1s(
        cluster, cluster_template: Template) -> None:
    made = cluster()
    token = cluster_template.builtin_tokens[0]
    dns_ports = [node.dns_port for node in made.nodes]
    serial_before = db_serial(made, BUILTIN_ZONE)
    seq_before = journal_seq(made, BUILTIN_ZONE)

    seen = await write_through_both(made, token, BUILTIN_ZONE, dns_ports)

    report_dns_lags(seen)
    assert_dns_in_time(seen)
    final = await assert_final_state(made, token, BUILTIN_ZONE, seen, dns_ports)
    assert_journal_chains(made, BUILTIN_ZONE, seq_before, seen.acked,
                          final_rrsets(seen, BUILTIN_ZONE, final))
    # every acknowledged write is one change of the zone: one serial step each
    # (a lost update under the zone lock would skip or repeat a step)
    expected = serial_before
    today = datetime.now(UTC)
    for _ in range(seen.acked):
        expected = next_serial(expected, today)
    serial = db_serial(made, BUILTIN_ZONE)
    assert serial == expected, (serial_before, serial, seen.acked)
    serials: dict[int, int | None] = {}

    async def both_serve_it() -> bool:  # both DNS servers serve the database's serial
        for port in dns_ports:
            answer = await dns_records(port, BUILTIN_ZONE, "SOA")
            serials[port] = int(next(iter(answer)).split()[2]) if answer else None
        return all(found == serial for found in serials.values())

    assert await within(DNS_DEADLINE, both_serve_it) is not None, (serial, serials)


# --- (a): a real PowerDNS --------------------------------------------------------


async def test_powerdns_writes_through_both_nodes_lose_nothing(
        cluster, cluster_template: Template, powerdns: pdns.PowerDNS) -> None:
    made = cluster()
    token = cluster_template.pdns_token
    dns_ports = [powerdns.dns_port]  # PowerDNS answers for its zones, not the nodes
    seq_before = journal_seq(made, PDNS_ZONE)

    seen = await write_through_both(made, token, PDNS_ZONE, dns_ports)

    report_dns_lags(seen)
    assert_dns_in_time(seen)
    final = await assert_final_state(made, token, PDNS_ZONE, seen, dns_ports)
    assert_journal_chains(made, PDNS_ZONE, seq_before, seen.acked,
                          final_rrsets(seen, PDNS_ZONE, final))
    # and PowerDNS's own API agrees, past dnsgate
    response = powerdns.api("GET", f"/zones/{PDNS_ZONE}.")
    assert response.status_code == 200, response.text
    held = {(rr["name"], rr["type"]): {r["content"] for r in rr["records"]}
            for rr in response.json()["rrsets"]}
    for name, records in seen.final_sets.items():
        assert held[(f"{name}.", "TXT")] == records, name
    assert held[(f"same.lab.{PDNS_ZONE}.", "A")] == {final}


# --- (c) + (d): limits kept in Redis, and the login throttle, across both nodes ----


async def sign_in(http: httpx.AsyncClient, node: Node, password: str) -> httpx.Response:
    return await http.post(f"{node.base}/api/v1/auth/api-keys",
                           json={"username": USER, "password": password, "name": "cluster"})


async def test_the_write_and_sign_in_limits_count_across_both_nodes(
        cluster, cluster_template: Template) -> None:
    """``DNSGATE_WRITE_RATE_LIMIT`` per token and ``DNSGATE_LOGIN_USER_LIMIT``
    per (name, address), kept in Redis: requests split over both nodes are
    refused once the limit is spent in total (each node's own count would let
    twice as many through)."""
    made = cluster(write_rate_limit="10/minute", login_user_limit="4/minute",
                   login_ip_limit="1000/minute")
    limited, other = cluster_template.builtin_tokens
    serial_before = db_serial(made, BUILTIN_ZONE)

    async with http_client() as http:
        async def put(i: int, token: str) -> tuple[str, httpx.Response]:
            node = made.nodes[i % 2]
            response = await http.put(
                rrset_url(node, BUILTIN_ZONE, f"rl{i}.lab.{BUILTIN_ZONE}", "A"),
                headers=bearer(token), json={"records": [f"192.0.2.{i + 1}"]})
            return node.name, response

        # 24 writes at once, 12 through each node: 10 in total may pass
        results = await asyncio.gather(*(put(i, limited) for i in range(24)))
        # the limit is the token's: another token of the same realm still writes
        others = await asyncio.gather(*(put(100 + i, other) for i in range(2)))
        # sign-ins with the right password, alternating nodes: 4 in total may pass
        signed_in = [(await sign_in(http, made.nodes[i % 2], PASSWORD)).status_code
                     for i in range(6)]

    statuses = sorted(r.status_code for _, r in results)
    assert statuses == [200] * 10 + [429] * 14, statuses
    refused = [(node, r) for node, r in results if r.status_code == 429]
    assert {node for node, _ in refused} == {"a", "b"}, "each node refused some"
    for _, response in refused:
        assert response.json()["code"] == "rate_limited", response.text
        assert int(response.headers["retry-after"]) >= 1
    assert [r.status_code for _, r in others] == [200, 200]
    # the refused writes wrote nothing: 12 changes, 12 serial steps
    expected = serial_before
    for _ in range(12):
        expected = next_serial(expected, datetime.now(UTC))
    assert db_serial(made, BUILTIN_ZONE) == expected
    assert signed_in == [201] * 4 + [429] * 2, signed_in


async def test_failed_sign_ins_through_both_nodes_lock_the_account_together(cluster) -> None:
    """The login throttle's failure counts are shared: after FREE_FAILURES
    failed sign-ins in total, split over both nodes, the next sign-in on
    either node waits (429 with Retry-After), even with the right password.
    A throttle of each node's own would let node b, which saw one failure,
    take it."""
    made = cluster(login_user_limit="1000/minute", login_ip_limit="1000/minute")
    a, b = made.nodes
    async with http_client() as http:
        failed = [(await sign_in(http, made.nodes[i % 2], "wrong password")).status_code
                  for i in range(FREE_FAILURES)]
        assert failed == [401] * FREE_FAILURES
        for node in (b, a):
            response = await sign_in(http, node, PASSWORD)
            assert response.status_code == 429, (node.name, response.text)
            assert int(response.headers["retry-after"]) >= 1


# --- (e): kill -9 of one node under write load ---------------------------------------


@dataclass
class Acked:
    node: str
    name: str
    value: str
    at: float


async def test_kill_9_of_one_node_under_load_loses_no_acknowledged_write(
        cluster, cluster_template: Template) -> None:
    made = cluster()
    a, b = made.nodes
    token = cluster_template.builtin_tokens[0]
    acked: list[Acked] = []
    failures: dict[str, list[str]] = {"a": [], "b": []}
    down: set[str] = set()
    stop = asyncio.Event()
    killed_at: float | None = None

    async def writer(http: httpx.AsyncClient, client: int) -> None:
        # each write makes a new name, so every acknowledged one must stay
        for j in range(100_000):
            if stop.is_set():
                return
            node = made.nodes[(client + j) % 2]
            if node.name in down:  # what a load balancer does after a failed request
                node = b
            name, value = f"k{client}-{j}.lab.{BUILTIN_ZONE}", f"10.{client}.{j // 250}.{j % 250}"
            try:
                response = await http.put(rrset_url(node, BUILTIN_ZONE, name, "A"),
                                          headers=bearer(token), json={"records": [value]})
            except httpx.TransportError as exc:
                failures[node.name].append(type(exc).__name__)
                down.add(node.name)
                continue
            if response.status_code == 200:
                acked.append(Acked(node.name, name, value, time.monotonic()))
            else:
                failures[node.name].append(f"{response.status_code} {response.text[:200]}")

    async with http_client() as http:
        writers = [asyncio.create_task(writer(http, c)) for c in range(8)]
        await asyncio.sleep(1.5)
        a.kill_9()
        killed_at = time.monotonic()
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*writers)
    load_ended = time.monotonic()

    assert a.process.returncode == -9
    before = [w for w in acked if w.node == "a" and w.at < killed_at]
    after = [w for w in acked if w.node == "b" and w.at > killed_at + 0.5]
    print(f"acknowledged: {len(acked)} ({len(before)} by node a before the kill, "
          f"{len(after)} by node b from 0.5 s after it); failed on a: {len(failures['a'])}")
    assert before, "node a acknowledged nothing before it was killed"
    assert len(after) >= 20, f"node b acknowledged only {len(after)} writes after the kill"
    assert not failures["b"], f"node b failed requests: {failures['b'][:5]}"

    # every acknowledged write is in the database, as the survivor reads it ...
    async with http_client() as http:
        response = await http.get(f"{b.base}/api/v1/zones/{BUILTIN_ZONE}/rrsets",
                                  headers=bearer(token))
    assert response.status_code == 200, response.text
    held = {(rr["name"], rr["type"]): rr["records"] for rr in response.json()}
    missing = [w for w in acked if held.get((w.name, "A")) != [w.value]]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost: {missing[:5]}"

    # ... and answered by the survivor's DNS server within 1 s of the load's end
    wanted = {w.name: w.value for w in acked}
    gate = asyncio.Semaphore(32)

    async def answered(name: str, value: str) -> bool:
        async with gate:
            return await dns_records(b.dns_port, name, "A") == {value}

    unanswered = dict(wanted)
    while unanswered:
        # a miss counts only if its pass began after every write's deadline
        conclusive = time.monotonic() - load_ended > DNS_DEADLINE
        checks = await asyncio.gather(*(answered(n, v) for n, v in unanswered.items()))
        unanswered = {n: v for (n, v), ok in zip(unanswered.items(), checks, strict=True)
                      if not ok}
        if conclusive:
            break
        await asyncio.sleep(DNS_POLL)
    assert not unanswered, (
        f"{len(unanswered)} of {len(wanted)} acknowledged names not answered by node b's "
        f"DNS within {DNS_DEADLINE} s: {sorted(unanswered)[:5]}")
