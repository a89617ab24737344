"""Nobody changes what they do not own, over HTTP and through the facades: attached
names, claims too big to auto-approve, existing data, NS/DNAME/CAA, wildcards
that stand in for attached names, and zone names of accounts' own DNS.

Each test is an attack that worked before (docs/security.md has the rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dnsgate.db.models import Realm, Zone
from dnsgate.domain.errors import Conflict
from dnsgate.services import backends, own_dns, records, zones
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT, RequestContext
from dnsgate.services.records import ChangeInput
from tests.support import pdns
from tests.support.acme import basic
from tests.support.api import assert_problem
from tests.support.factories import bearer

ZONE = "example.test"
REALMS = "/api/v1/account/realms"


class Person:
    """An account with an API key, and shorthands for its calls."""

    def __init__(self, client: Any, world: Any, name: str) -> None:
        self.client, self.world = client, world
        self.id = world.account(name)
        self.h = bearer(world.api_key(self.id))

    async def claim(self, name: str, kind: str = "host", zone: str = ZONE,
                    **extra: Any) -> dict[str, Any]:
        response = await self.client.post(REALMS, json={"zone": zone, "name": name,
                                                        "kind": kind, **extra}, headers=self.h)
        assert response.status_code in (201, 409), response.text
        return dict(response.json(), http=response.status_code)

    async def token(self, realm_id: int) -> str:
        response = await self.client.post("/api/v1/account/tokens",
                                          json={"realm_id": realm_id}, headers=self.h)
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


@pytest.fixture
async def zone(world) -> str:
    """A public zone that approves claims at once, as the demo zone does."""
    return await world.zone(ZONE, visibility="public", approval="auto", apex_allowed=True,
                            types=["A", "AAAA", "TXT", "CNAME", "NS", "CAA", "MX"])


@pytest.fixture
def alice(client, world) -> Person:
    return Person(client, world, "alice")


@pytest.fixture
def bob(client, world) -> Person:
    return Person(client, world, "bob")


async def put(client: Any, secret: str, name: str, rtype: str, records_: list[str]) -> Any:
    return await client.put(f"/api/v1/zones/{ZONE}/rrsets/{name}/{rtype}",
                            json={"records": records_}, headers=bearer(secret))


# -- names that control other names ---------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [
    ("_acme-challenge", "host"),   # certificates for the apex and *.zone
    ("_dmarc", "host"),            # mail policy of the whole domain
    ("_domainkey", "subtree"),     # every DKIM key of the domain
    ("_mta-sts", "host"),
    ("@", "subtree"), ("@", "below"), ("@", "host"),
])
async def test_claims_on_the_apex_or_its_attached_names_wait_for_an_admin(
        zone, alice, name, kind) -> None:
    got = await alice.claim(name, kind)
    assert got["http"] == 201 and got["status"] == "pending", got
    assert "apex" in got["pending_reasons"]


async def test_a_hosts_attached_names_belong_to_its_holder(zone, alice, bob) -> None:
    assert (await alice.claim("www"))["status"] == "approved"
    for name, kind in (("_acme-challenge.www", "host"), ("_dmarc.www", "host"),
                       ("s1._domainkey.www", "host"), ("_443._tcp.www", "host"),
                       ("_domainkey.www", "subtree")):
        got = await bob.claim(name, kind)
        assert got["http"] == 409 and got["code"] == "conflict", (name, got)
    # ...and the other way round: the attached name first blocks the host.
    assert (await bob.claim("_dmarc.mail"))["status"] == "pending"  # mail is nobody's yet
    assert (await alice.claim("mail"))["http"] == 409


async def test_an_attached_name_of_a_name_not_held_waits(zone, alice) -> None:
    got = await alice.claim("_acme-challenge.shop")
    assert got["status"] == "pending" and got["pending_reasons"] == ["attached_base"]
    assert (await alice.claim("shop"))["status"] == "approved"
    assert (await alice.claim("_dmarc.shop"))["status"] == "approved"


async def test_a_below_claim_does_not_hold_the_attached_names_of_its_own_name(
        client, zone, alice, bob) -> None:
    lab = await alice.claim("lab", "below")
    assert lab["status"] == "approved"
    token = await alice.token(lab["id"])
    for name in ("_acme-challenge.lab.example.test", "_dmarc.lab.example.test"):
        assert_problem(await put(client, token, name, "TXT", ['"v"']), 403,
                       "name_outside_realm")
    assert (await put(client, token, "_acme-challenge.x.lab.example.test", "TXT",
                      ['"v"'])).status_code == 200
    # A wildcard TXT would answer for _acme-challenge.lab: refused; an A is fine.
    assert_problem(await put(client, token, "*.lab.example.test", "TXT", ['"v"']), 403,
                   "name_outside_realm")
    assert (await put(client, token, "*.lab.example.test", "A", ["192.0.2.1"])).status_code \
        == 200
    # lab itself (and its attached names) stay free for another account.
    assert (await bob.claim("lab"))["status"] == "approved"


# -- records that reach below their owner -------------------------------------------


async def test_a_host_realm_never_delegates_or_sets_caa(client, zone, alice) -> None:
    www = await alice.claim("www")
    token = await alice.token(www["id"])
    for rtype, data in (("NS", "ns1.elsewhere.test."), ("CAA", '0 issue "ca.test"')):
        response = await put(client, token, "www.example.test", rtype, [data])
        assert_problem(response, 403, "subtree_required")


async def test_delegation_needs_the_whole_subtree_free(client, world, zone, alice) -> None:
    lab = await alice.claim("lab", "subtree")
    token = await alice.token(lab["id"])
    ns = ["ns1.lab-dns.test."]
    assert (await put(client, token, "x.lab.example.test", "NS", ns)).status_code == 200
    assert (await put(client, token, "lab.example.test", "CAA",
                      ['0 issue "ca.test"'])).status_code == 200
    # A claim of another account inside (left from before the claim rules): refused.
    bob = world.account("bob")
    with world.env.db.write() as session:
        zone_id = session.scalars(select(Zone.id).where(Zone.name == ZONE)).one()
        session.add(Realm(account_id=bob, zone_id=zone_id, name="y.lab.example.test",
                          kind="host", types=["A"], ops=["read", "update"], status="approved",
                          pending_reasons=[], handover=[]))
    assert_problem(await put(client, token, "lab.example.test", "NS", ns), 403, "claim_inside")
    assert (await put(client, token, "x.lab.example.test", "NS", ns)).status_code == 200


async def test_the_pdns_facade_keeps_the_same_rules(client, zone, alice) -> None:
    www = await alice.claim("www", types=["A", "TXT", "NS"])
    token = await alice.token(www["id"])
    patch = {"rrsets": [{"name": "www.example.test.", "type": "NS", "ttl": 300,
                         "changetype": "REPLACE",
                         "records": [{"content": "ns1.elsewhere.test.", "disabled": False}]}]}
    response = await client.patch(f"/pdns/api/v1/servers/localhost/zones/{ZONE}.", json=patch,
                                  headers={"X-API-Key": token})
    assert response.status_code == 403, response.text


async def test_httpreq_cannot_present_the_challenge_of_a_name_not_held(client, zone,
                                                                       alice) -> None:
    lab = await alice.claim("lab", "below")
    token = await alice.token(lab["id"])
    refused = await client.post("/httpreq/present", headers=basic("lego", token),
                                json={"fqdn": "_acme-challenge.lab.example.test.",
                                      "value": "a" * 43})
    assert refused.status_code == 403, refused.text
    allowed = await client.post("/httpreq/present", headers=basic("lego", token),
                                json={"fqdn": "_acme-challenge.x.lab.example.test.",
                                      "value": "a" * 43})
    assert allowed.status_code == 200, allowed.text


# -- existing data belongs to someone ----------------------------------------------------


async def _publish(env: Any, name: str, rtype: str, data: list[str]) -> None:
    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE,
                                inputs=[ChangeInput("upsert", name, rtype, 300, data)])


async def test_a_claim_over_the_operators_records_waits_and_lists_them(
        client, world, zone, alice, admin) -> None:
    await _publish(world.env, "shop.example.test", "A", ["192.0.2.7"])
    got = await alice.claim("shop")
    assert got["status"] == "pending" and got["pending_reasons"] == ["existing_data"]
    assert got["handover"] == [{"name": "shop.example.test", "type": "A", "writer": "operator",
                                "written_by": "written by the operator"}]
    listed = await client.get("/api/v1/admin/realms", params={"status": "pending"},
                              headers=bearer(admin))
    assert [r["handover"] for r in listed.json()] == [got["handover"]]
    approved = await client.post(f"/api/v1/admin/realms/{got['id']}/approve",
                                 headers=bearer(admin))
    assert approved.json()["status"] == "approved"
    token = await alice.token(got["id"])
    assert (await put(client, token, "shop.example.test", "A", ["192.0.2.8"])).status_code \
        == 200


async def test_another_accounts_records_are_named_by_realm(client, world, zone, alice,
                                                           bob) -> None:
    blog = await alice.claim("blog")
    token = await alice.token(blog["id"])
    assert (await put(client, token, "blog.example.test", "A", ["192.0.2.9"])).status_code \
        == 200
    given_up = await client.post(f"{REALMS}/{blog['id']}/revoke", headers=alice.h)
    assert given_up.status_code == 200
    got = await bob.claim("blog")
    assert got["status"] == "pending"
    assert got["handover"][0]["written_by"] == \
        "written by realm blog.example.test of account alice"
    # Alice's own records are hers to claim again.
    await client.post(f"/api/v1/admin/realms/{got['id']}/reject", json={"reason": "no"},
                      headers=bearer(world.api_key(world.account("root", admin=True))))
    assert (await alice.claim("blog"))["status"] == "approved"


async def test_records_written_outside_dnsgate_count_too(world, zone, alice) -> None:
    # Written straight into the store (as a zone transfer or import would): no writer known.
    backend = world.env.backends.builtin()
    from dnsgate.domain.records import RRset, Upsert
    with world.env.db.write() as session:
        backend.apply_in(session, ZONE, [Upsert(RRset("old.example.test", "TXT", 300,
                                                      ('"legacy"',)))])
    got = await alice.claim("old")
    assert got["handover"][0]["written_by"] == "written outside dnsgate"


# -- accounts' own DNS: zone names are not first-come -----------------------------------


@pytest.fixture(scope="module")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDNS]:
    server = pdns.start(tmp_path_factory.mktemp("pdns-own"))
    for name in ("own.test", "example.test", "sub.example.test"):
        server.create_zone(name)
    yield server
    server.stop()


@pytest.fixture
def settings(settings):
    """The accounts' PowerDNS runs on loopback: the operator opens it here."""
    from dnsgate.config import Settings

    return Settings(**{**settings.model_dump(), "byod_allow_networks": "127.0.0.0/8"})


async def _own_backend(world: Any, account: int, powerdns: pdns.PowerDNS) -> int:
    view = backends.add_own_backend(
        world.env, RequestContext(), caller=world.caller(account), name=f"own-{account}",
        provider="powerdns", config={"api_url": powerdns.api_url, "api_key": powerdns.api_key},
        allowed={"powerdns"})
    return view.id


async def test_an_own_zone_never_takes_a_platform_name(world, zone, alice, powerdns) -> None:
    backend_id = await _own_backend(world, alice.id, powerdns)
    for name in ("example.test", "sub.example.test"):
        with pytest.raises(Conflict):
            await own_dns.use_zone(world.env, RequestContext(), caller=world.caller(alice.id),
                                   backend_id=backend_id, zone=name, name="", kind="subtree")


async def test_an_own_zone_does_not_block_or_shadow_a_platform_zone(
        client, world, alice, bob, powerdns) -> None:
    backend_id = await _own_backend(world, alice.id, powerdns)
    own = await own_dns.use_zone(world.env, RequestContext(), caller=world.caller(alice.id),
                                 backend_id=backend_id, zone="own.test", name="",
                                 kind="subtree")
    assert own.status == "approved"
    # Later the operator serves own.test too: allowed, and a zone of its own.
    platform = await zones.add_zone(world.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                    zone="own.test", backend="builtin",
                                    policy=zones.PolicyUpdate(visibility="public",
                                                              approval="auto"))
    assert platform.policy.owner_id is None
    # Everyone else means the platform zone by the name...
    assert (await bob.claim("www", zone="own.test"))["status"] == "approved"
    # ...and alice's realm in her own zone does not reach the platform zone.
    from dnsgate.domain.policy import decide
    from dnsgate.services.auth import account_caller
    with world.env.db.read() as session:
        caller = account_caller(session, alice.id)
    import datetime as _dt
    now = _dt.datetime.now(_dt.UTC)
    assert not decide(caller.principal, "update", platform.policy, "x.own.test", "A", None,
                      now).allowed
    with world.env.db.read() as session:
        mine = zones.find_zone(session, "own.test", owner_id=alice.id)
        theirs = zones.find_zone(session, "own.test", owner_id=bob.id)
    assert mine.policy.owner_id == alice.id and theirs.policy.owner_id is None
    assert decide(caller.principal, "update", mine.policy, "x.own.test", "A", None,
                  now).allowed
