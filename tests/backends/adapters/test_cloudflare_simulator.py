"""The Cloudflare simulator, checked by clients written by others against the
real API: the official ``cloudflare`` SDK and dns-lexicon's provider.

If these clients can list, create, update and delete through it, page through
its lists and recognise its errors, the simulator answers in Cloudflare's
shapes, and the adapter tests that run against it mean something.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import cloudflare
import httpx
import pytest
import requests
from cloudflare import Cloudflare
from lexicon._private.providers.cloudflare import Provider as LexiconCloudflare
from lexicon.config import ConfigResolver

from tests.fakes.cloudflare import CloudflareSimulator

LIST = "GET /zones/{zone_id}/dns_records"
_zones = itertools.count(1)


@pytest.fixture(scope="module")
def sim() -> Iterator[CloudflareSimulator]:
    simulator = CloudflareSimulator()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="module")
def token(sim: CloudflareSimulator) -> str:
    return sim.add_token()


@pytest.fixture
def zone(sim: CloudflareSimulator) -> str:
    name = f"sdk{next(_zones)}.example"
    sim.add_zone(name)
    return name


@pytest.fixture
def sdk(sim: CloudflareSimulator, token: str) -> Iterator[Cloudflare]:
    client = Cloudflare(api_token=token, base_url=sim.api_url, max_retries=0)
    try:
        yield client
    finally:
        client.close()


def lexicon(sim: CloudflareSimulator, zone: str, **options: str) -> LexiconCloudflare:
    config = ConfigResolver().with_dict({"provider_name": "cloudflare", "domain": zone,
                                         "cloudflare": options})
    provider = LexiconCloudflare(config)
    # lexicon hard-codes api.cloudflare.com in __init__: point it at the simulator.
    provider.api_endpoint = sim.api_url
    return provider


# -- the official SDK ----------------------------------------------------------


def test_sdk_verifies_the_token(sdk: Cloudflare) -> None:
    verified = sdk.user.tokens.verify()
    assert verified is not None and verified.status == "active"


def test_sdk_finds_the_zone_by_name(sdk: Cloudflare, sim: CloudflareSimulator,
                                    zone: str) -> None:
    found = list(sdk.zones.list(name=zone))
    assert [(z.id, z.name, z.status) for z in found] == [(sim.zone_id(zone), zone, "active")]
    assert sdk.zones.get(zone_id=sim.zone_id(zone)).name == zone  # type: ignore[union-attr]


def test_sdk_creates_lists_updates_and_deletes(sdk: Cloudflare, sim: CloudflareSimulator,
                                               zone: str) -> None:
    zone_id = sim.zone_id(zone)
    a = sdk.dns.records.create(zone_id=zone_id, name=f"www.{zone}", type="A",
                               content="192.0.2.1", ttl=300, proxied=True, comment="web")
    mx = sdk.dns.records.create(zone_id=zone_id, name=zone, type="MX",
                                content=f"mail.{zone}", priority=10, ttl=1)
    srv = sdk.dns.records.create(zone_id=zone_id, name=f"_sip._tcp.{zone}", type="SRV",
                                 data={"priority": 10, "weight": 60, "port": 5060,
                                       "target": f"sip.{zone}"}, ttl=600)
    txt = sdk.dns.records.create(zone_id=zone_id, name="txt", type="TXT",
                                 content='"hello" "world"', ttl=300)
    assert a is not None and a.proxied is True and a.ttl == 1 and a.comment == "web"
    assert a.proxiable is True and a.name == f"www.{zone}"
    assert mx is not None and mx.priority == 10 and mx.content == f"mail.{zone}"
    assert srv is not None and srv.data is not None and srv.data.port == 5060  # type: ignore[union-attr]
    assert txt is not None and txt.name == f"txt.{zone}"  # relative names get the zone

    listed = {r.id: r for r in sdk.dns.records.list(zone_id=zone_id)}
    assert set(listed) == {a.id, mx.id, srv.id, txt.id}
    only_mx = list(sdk.dns.records.list(zone_id=zone_id, type="MX"))
    assert [r.id for r in only_mx] == [mx.id]
    by_name = list(sdk.dns.records.list(zone_id=zone_id, name={"exact": f"www.{zone}"}))
    assert [r.id for r in by_name] == [a.id]

    edited = sdk.dns.records.edit(a.id, zone_id=zone_id, name=f"www.{zone}", type="A",
                                  ttl=300, content="192.0.2.2")
    assert edited is not None and edited.content == "192.0.2.2"
    assert edited.proxied is True and edited.comment == "web"  # PATCH keeps the rest
    replaced = sdk.dns.records.update(a.id, zone_id=zone_id, name=f"www.{zone}", type="A",
                                      content="192.0.2.3", ttl=120)
    assert replaced is not None and replaced.proxied is False and replaced.comment is None

    deleted = sdk.dns.records.delete(a.id, zone_id=zone_id)
    assert deleted is not None and deleted.id == a.id
    assert a.id not in {r.id for r in sdk.dns.records.list(zone_id=zone_id)}
    with pytest.raises(cloudflare.NotFoundError) as missing:
        sdk.dns.records.get(a.id, zone_id=zone_id)
    assert _codes(missing.value.body) == [81044]


def test_sdk_pages_until_an_empty_page(sdk: Cloudflare, sim: CloudflareSimulator,
                                       zone: str) -> None:
    zone_id = sim.zone_id(zone)
    for i in range(12):
        sim.add_record(zone, name=f"h{i:02d}", type="A", content=f"192.0.2.{i + 1}", ttl=300)
    before = sim.counts[LIST]
    pages = sdk.dns.records.list(zone_id=zone_id, per_page=5)
    names = [r.name for r in pages]  # auto-pagination
    assert sorted(names) == [f"h{i:02d}.{zone}" for i in range(12)]
    # Pages 1-3 hold 5 + 5 + 2 records; the SDK stops at the empty page 4.
    assert sim.counts[LIST] - before == 4
    past = httpx.get(f"{sim.api_url}/zones/{zone_id}/dns_records",
                     params={"page": 9, "per_page": 5},
                     headers={"Authorization": f"Bearer {sdk.api_token}"}).json()
    assert past["success"] is True and past["result"] == []
    assert past["result_info"] == {"page": 9, "per_page": 5, "count": 0, "total_count": 12,
                                   "total_pages": 3}


def test_sdk_batch_is_all_or_nothing(sdk: Cloudflare, sim: CloudflareSimulator,
                                     zone: str) -> None:
    zone_id = sim.zone_id(zone)
    old = sim.add_record(zone, name="old", type="A", content="192.0.2.9", ttl=300)
    keep = sim.add_record(zone, name="keep", type="A", content="192.0.2.8", ttl=300,
                          proxied=True)
    done = sdk.dns.records.batch(
        zone_id=zone_id, deletes=[{"id": old["id"]}],
        patches=[{"id": keep["id"], "content": "192.0.2.7"}],  # type: ignore[list-item]
        posts=[{"name": f"new.{zone}", "type": "A", "content": "192.0.2.6", "ttl": 300}])
    assert done is not None
    assert [r.id for r in done.deletes or []] == [old["id"]]
    assert [(r.content, r.proxied) for r in done.patches or []] == [("192.0.2.7", True)]
    assert [r.name for r in done.posts or []] == [f"new.{zone}"]
    before = sim.records(zone)
    with pytest.raises(cloudflare.BadRequestError) as refused:
        sdk.dns.records.batch(
            zone_id=zone_id, deletes=[{"id": keep["id"]}],
            posts=[{"name": f"ok.{zone}", "type": "A", "content": "192.0.2.5", "ttl": 300},
                   {"name": f"bad.{zone}", "type": "A", "content": "192.0.2.4", "ttl": 5}])
    assert _codes(refused.value.body) == [1004, 9021]
    assert sim.records(zone) == before


def test_sdk_sees_cloudflare_auth_errors(sim: CloudflareSimulator, zone: str) -> None:
    wrong = Cloudflare(api_token="x" * 40, base_url=sim.api_url, max_retries=0)
    try:
        with pytest.raises(cloudflare.PermissionDeniedError) as denied:
            list(wrong.zones.list())
        assert denied.value.status_code == 403
        assert denied.value.body == {"success": False, "messages": [], "result": None,
                                     "errors": [{"code": 10000,
                                                 "message": "Authentication error"}]}
        with pytest.raises(cloudflare.AuthenticationError) as invalid:
            wrong.user.tokens.verify()
        assert invalid.value.status_code == 401 and _codes(invalid.value.body) == [1000]
    finally:
        wrong.close()


def test_tokens_reach_only_their_zones(sim: CloudflareSimulator, zone: str) -> None:
    other = f"other{next(_zones)}.example"
    sim.add_zone(other)
    narrow = Cloudflare(api_token=sim.add_token(zones={zone}), base_url=sim.api_url,
                        max_retries=0)
    try:
        assert [z.name for z in narrow.zones.list()] == [zone]
        with pytest.raises(cloudflare.PermissionDeniedError):
            list(narrow.dns.records.list(zone_id=sim.zone_id(other)))
    finally:
        narrow.close()


def test_raw_error_shapes(sim: CloudflareSimulator, token: str, zone: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    missing = httpx.get(f"{sim.api_url}/zones")
    assert missing.status_code == 400 and _codes(missing.json()) == [9106]
    malformed = httpx.get(f"{sim.api_url}/zones", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400 and _codes(malformed.json()) == [6003, 6111]
    bad_id = httpx.get(f"{sim.api_url}/zones/{zone}/dns_records", headers=bearer)
    assert bad_id.status_code == 400 and _codes(bad_id.json()) == [7003, 7000]
    assert bad_id.json() | {"errors": None} == {"success": False, "errors": None,
                                                "messages": [], "result": None}
    nowhere = httpx.get(f"{sim.api_url}/nowhere", headers=bearer)
    assert nowhere.status_code == 400 and _codes(nowhere.json()) == [7000]


# -- dns-lexicon ---------------------------------------------------------------------


def test_lexicon_creates_lists_and_deletes(sim: CloudflareSimulator, token: str,
                                           zone: str) -> None:
    provider = lexicon(sim, zone, auth_token=token)
    provider.authenticate()
    assert provider.domain_id == sim.zone_id(zone)
    assert provider.create_record("TXT", "_acme-challenge", "challenge-1")
    # Creating it again answers 81058, which lexicon recognises as "exists already".
    assert provider.create_record("TXT", "_acme-challenge", "challenge-1")
    assert provider.create_record("SRV", "_sip._tcp", f"10 60 5060 sip.{zone}")
    found = provider.list_records("TXT", "_acme-challenge")
    assert [(r["name"], r["content"], r["ttl"]) for r in found] == [
        (f"_acme-challenge.{zone}", "challenge-1", 3600)]
    assert sim.presentation(zone, f"_sip._tcp.{zone}", "SRV") == [f"10 60 5060 sip.{zone}."]
    assert provider.update_record(None, "TXT", "_acme-challenge", "challenge-2")
    assert [r["content"] for r in provider.list_records("TXT")] == ["challenge-2"]
    assert provider.delete_record(None, "TXT", "_acme-challenge", "challenge-2")
    assert provider.list_records("TXT", "_acme-challenge") == []


def test_lexicon_follows_total_pages(sim: CloudflareSimulator, token: str, zone: str) -> None:
    for i in range(130):  # lexicon asks for 100 per page: two pages
        sim.add_record(zone, name=f"n{i:03d}", type="TXT", content=f"v{i}", ttl=300)
    provider = lexicon(sim, zone, auth_token=token)
    provider.authenticate()
    before = sim.counts[LIST]
    assert len(provider.list_records("TXT")) == 130
    assert sim.counts[LIST] - before == 2


def test_lexicon_finds_a_zone_past_the_first_page(token: str) -> None:
    own = CloudflareSimulator()
    try:
        own.add_token(token)
        for i in range(60):  # /zones gives at most 50 a page, whatever lexicon asks for
            own.add_zone(f"a{i:02d}.example")
        own.add_zone("zz-last.example")
        provider = lexicon(own, "zz-last.example", auth_token=token)
        provider.authenticate()
        assert provider.domain_id == own.zone_id("zz-last.example")
        assert own.counts["GET /zones"] == 2
    finally:
        own.stop()


def test_lexicon_with_a_global_api_key(sim: CloudflareSimulator, zone: str) -> None:
    key = sim.add_legacy_key("admin@example.test")
    provider = lexicon(sim, zone, auth_username="admin@example.test", auth_token=key)
    provider.authenticate()
    assert provider.create_record("A", "legacy", "192.0.2.44")
    assert sim.presentation(zone, f"legacy.{zone}", "A") == ["192.0.2.44"]
    wrong = lexicon(sim, zone, auth_username="admin@example.test", auth_token="0" * 37)
    with pytest.raises(requests.HTTPError) as denied:
        wrong.authenticate()
    assert denied.value.response.status_code == 403
    assert _codes(denied.value.response.json()) == [9103]


def test_lexicon_sees_a_wrong_token_refused(sim: CloudflareSimulator, zone: str) -> None:
    provider = lexicon(sim, zone, auth_token="y" * 40)
    with pytest.raises(requests.HTTPError) as denied:
        provider.authenticate()
    assert denied.value.response.status_code == 403
    assert denied.value.response.json()["errors"] == [
        {"code": 10000, "message": "Authentication error"}]


def _codes(body: Any) -> list[int]:
    """Codes of a Cloudflare error body, error chains included."""
    out: list[int] = []
    for error in body["errors"]:
        out.append(error["code"])
        out += [item["code"] for item in error.get("error_chain", [])]
    return out
