"""``dnsgate serve --workers 2`` as a real process tree, on SQLite and PostgreSQL.

Every request here opens a new connection, so the kernel spreads them over
both workers (SO_REUSEPORT). What must hold whichever worker a request lands
on: DNS answers a change as soon as its PUT returns (the relay to worker 0),
a token gets its rate limit once (the shared table), and concurrent writes
all land (the write gate). The supervisor stops cleanly and stops the node
when a worker dies.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import httpx

from tests.dns.tools import free_dns_port
from tests.support.server import DNSGATE, cli_env, dnsgate, running

ZONE = "example.test"
WORKERS = ["--workers", "2"]


def _token(env: dict[str, str], name: str = "home", kind: str = "host") -> str:
    dnsgate(env, "user", "create", f"user-{name}", "--json")
    realm = dnsgate(env, "realm", "add", f"user-{name}", ZONE, name, "--kind", kind,
                    "--types", "A", "--json")
    return str(dnsgate(env, "token", "create", str(realm["id"]), "--json")["token"])


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = cli_env(tmp_path / "data", database_url, **extra)
    dnsgate(env, "zone", "add", ZONE, "--backend", "builtin", "--public", "--auto-approve",
            "--json")
    return env


def _put(base: str, token: str, name: str, address: str) -> httpx.Response:
    """One PUT on a connection of its own (any worker may take it)."""
    return httpx.put(f"{base}/api/v1/zones/{ZONE}/rrsets/{name}/A",
                     json={"ttl": 60, "records": [address]},
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _a_records(port: int, name: str) -> set[str]:
    response = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), "127.0.0.1",
                             port=port, timeout=2)
    return {rdata.to_text() for rrset in response.answer for rdata in rrset}


def _worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children]


def test_dns_answers_every_workers_change_at_once(tmp_path, database_url):
    dns_port = free_dns_port()
    env = _env(tmp_path, database_url, DNSGATE_DNS_PORT=str(dns_port))
    token = _token(env)
    with running("serve", env, args=WORKERS) as server:
        assert len(_worker_pids(server.process.pid)) == 2
        stale = []
        for round_ in range(1, 41):
            address = f"192.0.2.{round_}"
            assert _put(server.base, token, f"home.{ZONE}", address).status_code == 200
            answer = _a_records(dns_port, f"home.{ZONE}")
            if answer != {address}:
                stale.append((address, answer))
        # With 40 connections, both workers took some (all on one: 2**-39).
        assert stale == []


def test_a_token_gets_its_rate_limit_once_across_workers(tmp_path, database_url):
    env = _env(tmp_path, database_url, DNSGATE_WRITE_RATE_LIMIT="5/minute")
    token = _token(env)
    with running("serve", env, args=WORKERS) as server:
        codes = [_put(server.base, token, f"home.{ZONE}", f"192.0.2.{i}").status_code
                 for i in range(1, 13)]
    assert codes == [200] * 5 + [429] * 7


def test_concurrent_writes_through_both_workers_all_land(tmp_path, database_url):
    env = _env(tmp_path, database_url)
    token = _token(env, "lab", kind="subtree")
    names = [f"h{i}.lab.{ZONE}" for i in range(8)]
    with running("serve", env, args=WORKERS) as server:
        def write(name: str) -> list[int]:
            return [_put(server.base, token, name, f"192.0.2.{n}").status_code
                    for n in range(1, 11)]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(write, names))
        assert results == [[200] * 10] * 8
        got = httpx.get(f"{server.base}/api/v1/zones/{ZONE}/rrsets",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert {rr["name"]: rr["records"] for rr in got.json() if rr["type"] == "A"} == {
            name: ["192.0.2.10"] for name in names}


def test_sigterm_stops_the_supervisor_and_every_worker(tmp_path, database_url):
    env = _env(tmp_path, database_url)
    with running("serve", env, args=WORKERS) as server:
        workers = _worker_pids(server.process.pid)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def test_a_worker_that_dies_takes_the_node_down(tmp_path, database_url):
    env = _env(tmp_path, database_url)
    with running("serve", env, args=WORKERS) as server:
        first, second = _worker_pids(server.process.pid)
        os.kill(second, signal.SIGKILL)
        assert server.process.wait(timeout=15) != 0
        deadline = time.monotonic() + 10
        while Path(f"/proc/{first}").exists() and not _is_zombie(first):
            assert time.monotonic() < deadline, "the other worker kept running"
            time.sleep(0.05)


def test_failed_logins_slow_a_guesser_down_across_workers(tmp_path, database_url):
    env = _env(tmp_path, database_url)
    dnsgate(env, "user", "create", "alice", "--json")
    with running("serve", env, args=WORKERS) as server:
        # each attempt on a new connection; by the count of one worker alone the
        # fourth would get through seven times in eight
        codes = [_failed_login(server.base, "alice") for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def _failed_login(base: str, name: str) -> int:
    with httpx.Client(base_url=base, timeout=10) as browser:
        page = browser.get("/ui/login")
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
        assert csrf is not None
        return browser.post("/ui/login", data={
            "username": name, "password": "not the password", "csrf_token": csrf.group(1)},
        ).status_code


def test_workers_must_be_a_sane_number(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url)
    result = subprocess.run([*DNSGATE, "serve", "--workers", "0"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--workers" in result.stderr


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True

