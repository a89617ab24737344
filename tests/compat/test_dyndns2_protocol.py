"""The dyndns2 facade over HTTP (in-process): every result code, the three
credential placements, address selection, and what reaches the audit log."""

from __future__ import annotations

import base64
import dataclasses
import logging
from typing import Any

import httpx
import pytest

from dnsgate.app import create_app
from dnsgate.config import Settings
from dnsgate.domain.errors import BackendUnavailable
from dnsgate.services import records, tokens
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from dnsgate.throttling.ratelimit import RateLimiter
from tests.support.api import audit_events, audit_text

ZONE = "example.test"
HOME = f"home.{ZONE}"


def basic(username: str, password: str) -> dict[str, str]:
    raw = f"{username}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def lines(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    assert response.text.endswith("\n")
    return response.text.splitlines()


async def update(client: httpx.AsyncClient, secret: str, **params: str) -> list[str]:
    return lines(await client.get("/nic/update", params=params,
                                  headers=basic("router", secret)))


async def current(env: Any, name: str, rtype: str, zone: str = ZONE) -> set[str]:
    found = await records.list_rrsets(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone,
                                      name=name, rtype=rtype)
    return {record for rr in found for record in rr.records}


async def serial(env: Any, zone: str = ZONE) -> int:
    (soa,) = await records.list_rrsets(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone,
                                       name=zone, rtype="SOA")
    return int(soa.records[0].split()[2])


@pytest.fixture
async def zone(world) -> str:
    return await world.zone(ZONE)


@pytest.fixture
def home(zone, dyndns_token) -> str:
    """A token whose realm is the host home.example.test (A, AAAA)."""
    return dyndns_token(zone, HOME).secret


def other_app(settings: Settings, env: Any, **changes: Any) -> Any:
    return create_app(Settings(**{**settings.model_dump(), **changes}), env=env,
                      migrate_on_start=False)


def client_of(app: Any, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://dnsgate.test")


# --- good / nochg -------------------------------------------------------------

async def test_good_sets_the_a_record_then_nochg_writes_nothing(client, env, home):
    assert await update(client, home, hostname=HOME, myip="192.0.2.1") == ["good 192.0.2.1"]
    assert await current(env, HOME, "A") == {"192.0.2.1"}
    writes = audit_events(env, action="rrset.create")
    assert len(writes) == 1 and writes[0].details["surface"] == "dyndns2"
    before = await serial(env)

    for _ in range(2):
        assert await update(client, home, hostname=HOME, myip="192.0.2.1") == ["nochg 192.0.2.1"]
    assert await serial(env) == before  # the zone was not written
    assert len(audit_events(env, action="rrset.create")) == 1
    assert audit_events(env, action="rrset.update") == []

    assert await update(client, home, hostname=HOME, myip="192.0.2.2") == ["good 192.0.2.2"]
    assert await current(env, HOME, "A") == {"192.0.2.2"}
    assert await serial(env) > before
    (changed,) = audit_events(env, action="rrset.update")
    assert changed.details == {"surface": "dyndns2", "ttl": 300, "records": ["192.0.2.2"]}
    assert changed.actor_type == "token" and changed.name == HOME and changed.rtype == "A"


async def test_both_families_in_one_line(client, env, home):
    assert await update(client, home, hostname=HOME, myip="192.0.2.1,2001:db8::1") == [
        "good 192.0.2.1,2001:db8::1"]
    assert await current(env, HOME, "A") == {"192.0.2.1"}
    assert await current(env, HOME, "AAAA") == {"2001:db8::1"}
    # Either order, and the separate parameters; an unchanged pair is nochg.
    assert await update(client, home, hostname=HOME, myip="2001:db8::1,192.0.2.1") == [
        "nochg 192.0.2.1,2001:db8::1"]
    assert await update(client, home, hostname=HOME, myipv4="192.0.2.1",
                        myipv6="2001:db8:0::2") == ["good 192.0.2.1,2001:db8::2"]
    assert await current(env, HOME, "AAAA") == {"2001:db8::2"}


async def test_one_family_leaves_the_other_alone(client, env, home):
    await update(client, home, hostname=HOME, myip="192.0.2.1,2001:db8::1")
    assert await update(client, home, hostname=HOME, myipv6="2001:db8::9") == [
        "good 2001:db8::9"]
    assert await current(env, HOME, "A") == {"192.0.2.1"}
    assert await update(client, home, hostname=HOME, myip="198.51.100.4") == [
        "good 198.51.100.4"]
    assert await current(env, HOME, "AAAA") == {"2001:db8::9"}
    assert await current(env, HOME, "A") == {"198.51.100.4"}


async def test_without_an_address_the_client_address_is_used(client, env, home, settings):
    assert await update(client, home, hostname=HOME) == ["good 127.0.0.1"]
    assert await current(env, HOME, "A") == {"127.0.0.1"}

    async with client_of(other_app(settings, env), peer="2001:db8::77") as v6:
        assert await update(v6, home, hostname=HOME) == ["good 2001:db8::77"]
    assert await current(env, HOME, "AAAA") == {"2001:db8::77"}

    behind_proxy = other_app(settings, env, trusted_proxies="10.0.0.0/8")
    async with client_of(behind_proxy, peer="10.1.2.3") as proxied:
        response = await proxied.get("/nic/update", params={"hostname": HOME},
                                     headers={**basic("", home),
                                              "X-Forwarded-For": "203.0.113.9"})
        assert lines(response) == ["good 203.0.113.9"]
        checkip = await proxied.get("/nic/checkip.html",
                                    headers={"X-Forwarded-For": "203.0.113.9"})
        assert "Current IP Address: 203.0.113.9</body>" in checkip.text
    # A client that is not a trusted proxy cannot choose its address this way.
    response = await client.get("/nic/update", params={"hostname": HOME},
                                headers={**basic("", home), "X-Forwarded-For": "203.0.113.10"})
    assert lines(response) == ["good 127.0.0.1"]


async def test_checkip_answers_the_client_address(client):
    response = await client.get("/nic/checkip.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == ("<html><head><title>Current IP Check</title></head>"
                             "<body>Current IP Address: 127.0.0.1</body></html>\n")


# --- names ----------------------------------------------------------------------

async def test_names_are_normalized(client, env, zone, dyndns_token):
    secret = dyndns_token(zone, "bücher").secret  # an IDN host: xn--bcher-kva
    assert await update(client, secret, hostname="Bücher.Example.Test.", myip="192.0.2.5") == [
        "good 192.0.2.5"]
    assert await current(env, f"xn--bcher-kva.{ZONE}", "A") == {"192.0.2.5"}
    assert await update(client, secret, hostname=f"XN--BCHER-KVA.{ZONE}",
                        myip="192.0.2.5") == ["nochg 192.0.2.5"]


async def test_notfqdn(client, env, home, world):
    await world.zone("other.test")
    for hostname in ("home", "www.other.test", "*.example.test", "-bad-.example.test",
                     "a..example.test", "example.test.evil", "x" * 64 + ".example.test"):
        assert await update(client, home, hostname=hostname, myip="192.0.2.1") == ["notfqdn"], \
            hostname
    for params in ({"hostname": ""}, {"hostname": " , "}, {}):
        assert await update(client, home, myip="192.0.2.1", **params) == ["notfqdn"], params
    assert await current(env, HOME, "A") == set()


async def test_nohost_for_a_name_outside_the_realm(client, env, home):
    response = await update(client, home, hostname=f"www.{ZONE}", myip="192.0.2.1")
    assert response == ["nohost"]
    assert await current(env, f"www.{ZONE}", "A") == set()
    (denied,) = audit_events(env, outcome="denied")
    assert denied.code == "name_outside_realm" and denied.details["surface"] == "dyndns2"
    # a name that shares the suffix without a dot boundary is another name
    assert await update(client, home, hostname=f"xhome.{ZONE}", myip="192.0.2.1") == ["nohost"]


async def test_nohost_when_the_realm_does_not_allow_the_type(client, env, zone, dyndns_token):
    v4_only = dyndns_token(zone, HOME, types=("A",)).secret
    assert await update(client, v4_only, hostname=HOME, myip="2001:db8::1") == ["nohost"]
    assert await update(client, v4_only, hostname=HOME, myip="192.0.2.1,2001:db8::1") == [
        "nohost"]  # one change set per hostname: all or nothing
    assert await current(env, HOME, "A") == set()


async def test_one_line_per_hostname_in_order(client, env, zone, dyndns_token):
    secret = dyndns_token(zone, f"lab.{ZONE}", kind="subtree").secret
    assert await update(client, secret, hostname=f"a.lab.{ZONE}", myip="192.0.2.1") == [
        "good 192.0.2.1"]
    hostnames = [f"a.lab.{ZONE}", f"www.{ZONE}", "not a name", f"b.lab.{ZONE}"]
    assert await update(client, secret, hostname=",".join(hostnames), myip="192.0.2.1") == [
        "nochg 192.0.2.1", "nohost", "notfqdn", "good 192.0.2.1"]
    assert await current(env, f"b.lab.{ZONE}", "A") == {"192.0.2.1"}


async def test_twenty_hostnames_but_not_more(client, env, zone, dyndns_token):
    secret = dyndns_token(zone, f"lab.{ZONE}", kind="below").secret
    hosts = [f"h{i}.lab.{ZONE}" for i in range(21)]
    assert await update(client, secret, hostname=",".join(hosts[:20]), myip="192.0.2.3") == [
        "good 192.0.2.3"] * 20
    assert await update(client, secret, hostname=",".join(hosts), myip="192.0.2.4") == [
        "numhost"]
    assert await current(env, hosts[0], "A") == {"192.0.2.3"}
    assert await current(env, hosts[20], "A") == set()


# --- addresses ---------------------------------------------------------------------

@pytest.mark.parametrize("myip", ["192.0.2.256", "not-an-ip", "192.0.2.1,192.0.2.2",
                                  "2001:db8::1,2001:db8::2", "192.0.2.1/24", "192.0.2.1,x"])
async def test_a_bad_address_is_dnserr_for_every_host(client, env, home, myip):
    assert await update(client, home, hostname=f"{HOME},{HOME}", myip=myip) == ["dnserr"] * 2
    assert await current(env, HOME, "A") == set()


# --- credentials ---------------------------------------------------------------------

async def test_the_three_credential_placements(client, env, zone, dyndns_token):
    made = dyndns_token(zone, HOME)
    token_id, secret = made.id, made.secret.rsplit("_", 1)[1]
    placements: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("basic, any username", basic("whatever", made.secret), {}),
        ("basic, no username", basic("", made.secret), {}),
        ("basic, token id as username", basic(token_id, secret), {}),
        ("basic, dg_<id> as username", basic(f"dg_{token_id}", secret), {}),
        ("bearer", {"Authorization": f"Bearer {made.secret}"}, {}),
        ("url", {}, {"username": "router", "password": made.secret}),
        ("url, password only", {}, {"password": made.secret}),
        ("url, token id as username", {}, {"username": token_id, "password": secret}),
    ]
    for i, (case, headers, extra) in enumerate(placements):
        address = f"192.0.2.{10 + i}"
        response = await client.get("/nic/update", headers=headers,
                                    params={"hostname": HOME, "myip": address, **extra})
        assert lines(response) == [f"good {address}"], case
        assert await current(env, HOME, "A") == {address}, case


async def test_get_and_post(client, env, home):
    response = await client.post("/nic/update", params={"hostname": HOME, "myip": "192.0.2.1"},
                                 headers=basic("router", home))
    assert lines(response) == ["good 192.0.2.1"]
    form = await client.post("/nic/update", data={"hostname": HOME, "myip": "192.0.2.2",
                                                   "username": "router", "password": home})
    assert lines(form) == ["good 192.0.2.2"]
    assert await current(env, HOME, "A") == {"192.0.2.2"}
    other = await client.put("/nic/update", params={"hostname": HOME})
    assert other.status_code == 405


async def test_an_account_api_key_reaches_its_realms_in_the_deepest_zone(
        client, env, world, zone):
    await world.zone(f"lab.{ZONE}")
    alice = world.account("alice")
    world.realm(alice, f"lab.{ZONE}", "box", types=["A"])
    world.realm(alice, ZONE, "home", types=["A"])
    key = world.api_key(alice)
    response = await update(client, key, hostname=f"box.lab.{ZONE},{HOME},www.{ZONE}",
                            myip="192.0.2.8")
    assert response == ["good 192.0.2.8", "good 192.0.2.8", "nohost"]
    assert await current(env, f"box.lab.{ZONE}", "A", zone=f"lab.{ZONE}") == {"192.0.2.8"}
    assert await current(env, HOME, "A") == {"192.0.2.8"}
    (event, _) = audit_events(env, action="rrset.create")
    assert event.zone == f"lab.{ZONE}" and event.actor_type == "api_key"


@pytest.mark.parametrize("headers", [
    {"Authorization": "Basic !!!"},
    {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    {"Authorization": "Digest username=x"},
    basic("router", "dg_aaaaaaaaaaaaaaaa_" + "a" * 52),
    basic("router", "wrong"),
    {"Authorization": "Bearer dgk_aaaaaaaaaaaaaaaa_" + "a" * 52},
], ids=["bad-base64", "no-colon", "other-scheme", "unknown-token", "garbage", "unknown-key"])
async def test_badauth(client, env, home, headers):
    response = await client.get("/nic/update", params={"hostname": f"{HOME},{HOME}",
                                                       "myip": "192.0.2.1"}, headers=headers)
    assert lines(response) == ["badauth"]  # once, not per host
    assert await current(env, HOME, "A") == set()


async def test_a_wrong_secret_of_a_real_token_is_badauth(client, env, zone, dyndns_token):
    made = dyndns_token(zone, HOME)
    forged = made.secret[:-4] + ("aaaa" if not made.secret.endswith("aaaa") else "bbbb")
    assert await update(client, forged, hostname=HOME, myip="192.0.2.1") == ["badauth"]
    assert await current(env, HOME, "A") == set()


async def test_no_credential_at_all_gets_a_basic_challenge(client, env, home):
    response = await client.get("/nic/update", params={"hostname": HOME, "myip": "192.0.2.1"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Basic realm="dnsgate"')
    assert response.text == "badauth\n"


async def test_a_revoked_token_is_badauth_and_changes_nothing(client, env, zone, dyndns_token):
    made = dyndns_token(zone, HOME)
    assert await update(client, made.secret, hostname=HOME, myip="192.0.2.1") == [
        "good 192.0.2.1"]
    tokens.revoke_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, token_id=made.id)
    before = await serial(env)
    assert await update(client, made.secret, hostname=f"{HOME},{HOME}", myip="192.0.2.2") == [
        "badauth"]
    assert await current(env, HOME, "A") == {"192.0.2.1"}
    assert await serial(env) == before
    assert await update(client, made.secret, myip="192.0.2.2") == ["badauth"]
    denied = audit_events(env, outcome="denied")
    assert [(e.action, e.code, e.details["surface"]) for e in denied] == [
        ("dyndns2.update", "token_revoked", "dyndns2")] * 2


async def test_a_token_from_the_wrong_address_is_badauth(client, env, zone, dyndns_token):
    fenced = dyndns_token(zone, HOME, cidrs=["198.51.100.0/24"]).secret
    assert await update(client, fenced, hostname=HOME, myip="192.0.2.1") == ["badauth"]
    assert await current(env, HOME, "A") == set()


# --- limits and failures -----------------------------------------------------------------

async def test_rate_limited_updates_are_abuse(settings, env, zone, dyndns_token):
    limited = dataclasses.replace(env, limiter=RateLimiter({"token_write": "2/minute"}))
    made = dyndns_token(zone, HOME)
    other = dyndns_token(zone, f"other.{ZONE}")
    async with client_of(other_app(settings, limited)) as client:
        assert await update(client, made.secret, hostname=HOME, myip="192.0.2.1") == [
            "good 192.0.2.1"]
        assert await update(client, made.secret, hostname=HOME, myip="192.0.2.2") == [
            "good 192.0.2.2"]
        assert await update(client, made.secret, hostname=f"{HOME},{HOME}",
                            myip="192.0.2.3") == ["abuse", "abuse"]
        # the limit is per token
        assert await update(client, other.secret, hostname=f"other.{ZONE}",
                            myip="192.0.2.3") == ["good 192.0.2.3"]
    assert await current(env, HOME, "A") == {"192.0.2.2"}


async def test_a_failing_backend_is_dnserr(client, env, home, monkeypatch):
    builtin = type(env.backends.builtin())

    def broken(*args: Any, **kwargs: Any) -> None:
        raise BackendUnavailable("backend builtin failed", detail="disk on fire")

    monkeypatch.setattr(builtin, "apply_in", broken)
    assert await update(client, home, hostname=HOME, myip="192.0.2.1") == ["dnserr"]
    monkeypatch.undo()
    assert await current(env, HOME, "A") == set()


async def test_a_server_error_is_911_and_the_log_masks_the_password(
        client, env, home, monkeypatch, caplog):
    builtin = type(env.backends.builtin())

    def bug(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(builtin, "apply_in", bug)
    caplog.set_level(logging.DEBUG, logger="dnsgate")
    response = await client.get("/nic/update", params={
        "hostname": HOME, "myip": "192.0.2.1", "username": "router", "password": home})
    assert lines(response) == ["911"]
    secret_part = home.rsplit("_", 1)[1]
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("dnsgate"))
    assert secret_part not in ours
    assert "password=***" in ours and "hostname=home.example.test" in ours


# --- the audit log ------------------------------------------------------------------------

async def test_audit_events_name_the_surface_and_hold_no_secret(client, env, zone, world,
                                                                dyndns_token, caplog):
    caplog.set_level(logging.DEBUG)
    made = dyndns_token(zone, HOME)
    secret_part = made.secret.rsplit("_", 1)[1]
    await client.get("/nic/update", params={"hostname": HOME, "myip": "192.0.2.1",
                                            "username": "router", "password": made.secret})
    await client.get("/nic/update", params={"hostname": f"www.{ZONE}", "myip": "192.0.2.1",
                                            "username": "router", "password": made.secret})
    await client.get("/nic/update", params={"hostname": HOME}, headers=basic("x", made.secret))
    tokens.revoke_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, token_id=made.id)
    await client.get("/nic/update", params={"hostname": HOME, "myip": "192.0.2.1",
                                            "username": "router", "password": made.secret})
    ours = [e for e in audit_events(env) if e.actor_type == "token"]
    assert [(e.action, e.outcome) for e in ours] == [
        ("rrset.create", "success"), ("rrset.update", "denied"), ("rrset.update", "success"),
        ("dyndns2.update", "denied")]
    assert all(e.details["surface"] == "dyndns2" for e in ours)
    assert all(e.source_ip == "127.0.0.1" for e in ours)
    stored = audit_text(env)
    assert secret_part not in stored
    assert "password=" not in stored
    # nor any server-side log line (the test's own HTTP client logs its URLs)
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert not [line for line in logged if secret_part in line]
