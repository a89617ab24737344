"""The backend CLI contract, end to end with real servers: a PowerDNS and a
BIND zone fronted by a real ``dnsgate serve``, updated with a scoped token
through the REST API, and the change answered by ``dig`` against that server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dns.tools import dig
from tests.support import pdns
from tests.support.bind import Bind, start_bind
from tests.support.server import DNSGATE, cli_env, dnsgate, running


@pytest.fixture(scope="module")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDNS]:
    server = pdns.start(tmp_path_factory.mktemp("pdns"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    server = start_bind(tmp_path_factory.mktemp("bind"))
    try:
        yield server
    finally:
        server.stop()


def token_for(env: dict[str, str], zone: str, host: str) -> str:
    dnsgate(env, "user", "create", f"owner-{zone}", "--json")
    realm = dnsgate(env, "realm", "add", f"owner-{zone}", zone, host, "--kind", "host",
                    "--types", "A,AAAA", "--json")
    return str(dnsgate(env, "token", "create", str(realm["id"]), "--json")["token"])


async def update_and_dig(env: dict[str, str], zone: str, token: str, dns_port: int) -> None:
    host = f"home.{zone}"
    with running("serve", env) as server:
        client = httpx.AsyncClient(base_url=server.base)
        auth = {"Authorization": f"Bearer {token}"}
        put = await client.put(f"/api/v1/zones/{zone}/rrsets/{host}/A",
                         json={"ttl": 120, "records": ["192.0.2.44"]}, headers=auth)
        assert put.status_code == 200, put.text
        answer = await dig(dns_port, host, "A")
        assert [(r.ttl, r.data) for r in answer.answer if r.type == "A"] == [(120, "192.0.2.44")]
        other = await client.put(f"/api/v1/zones/{zone}/rrsets/www.{zone}/A",
                                 json={"records": ["192.0.2.45"]}, headers=auth)
        await client.aclose()
        assert other.status_code == 403 and other.json()["code"] == "name_outside_realm"
        assert not (await dig(dns_port, f"www.{zone}", "A")).answer


async def test_powerdns_zone_through_the_cli_and_rest_api(
        tmp_path: Path, database_url: str, powerdns: pdns.PowerDNS) -> None:
    env = cli_env(tmp_path / "data", database_url)
    powerdns.create_zone("pdns-cli.test")
    config = {"api_url": powerdns.api_url, "api_key": powerdns.api_key}
    added = dnsgate(env, "backend", "add", "pdns", "--provider", "powerdns",
                    "--config-json", json.dumps(config), "--json")
    assert added["name"] == "pdns" and added["provider"] == "powerdns"
    assert added["config"]["api_key"] == "**********"
    assert powerdns.api_key not in json.dumps(added)
    checked = dnsgate(env, "backend", "check", "pdns", "--json")
    assert checked["ok"] is True and checked["health_status"] == "ok"
    assert "pdns-cli.test" in dnsgate(env, "backend", "zones", "pdns", "--json")["zones"]
    zone = dnsgate(env, "zone", "add", "pdns-cli.test", "--backend", "pdns", "--public",
                   "--auto-approve", "--json")
    assert zone == {"id": zone["id"], "zone": "pdns-cli.test", "backend": "pdns"}
    await update_and_dig(env, "pdns-cli.test", token_for(env, "pdns-cli.test", "home"),
                         powerdns.dns_port)


async def test_bind_zone_through_the_cli_and_rest_api(
        tmp_path: Path, database_url: str, bind: Bind) -> None:
    env = cli_env(tmp_path / "data", database_url)
    zone = bind.new_zone()
    config: dict[str, Any] = {"server": "127.0.0.1", "port": bind.port,
                              "tsig_key_name": bind.key_name, "tsig_secret": bind.key_secret,
                              "zones": [zone]}
    dnsgate(env, "backend", "add", "bind", "--provider", "rfc2136",
            "--config-json", json.dumps(config), "--json")
    assert dnsgate(env, "backend", "check", "bind", "--json")["ok"] is True
    dnsgate(env, "zone", "add", zone, "--backend", "bind", "--public", "--auto-approve",
            "--json")
    await update_and_dig(env, zone, token_for(env, zone, "home"), bind.port)


def test_failing_check_exits_1_with_the_reason_and_no_secret(
        tmp_path: Path, database_url: str, powerdns: pdns.PowerDNS) -> None:
    env = cli_env(tmp_path / "data", database_url)
    wrong = "definitely-not-the-key-0123456789"
    dnsgate(env, "backend", "add", "pdns", "--provider", "powerdns", "--config-json",
            json.dumps({"api_url": powerdns.api_url, "api_key": wrong}), "--json")
    result = subprocess.run([*DNSGATE, "backend", "check", "pdns", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    shown = json.loads(result.stdout)
    assert shown["ok"] is False and shown["health_status"] == "failing"
    assert "auth" in shown["health_message"].lower()
    assert wrong not in result.stdout + result.stderr


@pytest.mark.parametrize("args, message", [
    (["--provider", "nosuch", "--config-json", "{}"], "unknown provider"),
    (["--provider", "powerdns", "--config-json", "[1]"], "must be a JSON object"),
    (["--provider", "powerdns", "--config-json", "{nope"], "not JSON"),
    (["--provider", "powerdns", "--config-json", '{"api_url": "http://127.0.0.1:1"}'],
     "api_key"),
    (["--provider", "powerdns", "--config-json",
      '{"api_url": "http://127.0.0.1:1", "api_key": "sekrit-value-42", "color": 1}'], "color"),
])
def test_bad_backend_input_is_refused_and_nothing_saved(
        tmp_path: Path, database_url: str, args: list[str], message: str) -> None:
    env = cli_env(tmp_path / "data", database_url)
    result = subprocess.run([*DNSGATE, "backend", "add", "x", *args, "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "sekrit-value-42" not in result.stderr + result.stdout
    listed = dnsgate(env, "backend", "list", "--json")
    assert [b["name"] for b in listed["backends"]] == ["builtin"]
