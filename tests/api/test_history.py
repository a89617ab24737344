"""GET /api/v1/zones/{zone}/history and undo: the change journal seen through the API."""

from __future__ import annotations

import pytest

from dnsgate.db import journal
from dnsgate.domain.records import RRset
from tests.support.api import assert_problem, audit_events
from tests.support.factories import bearer

ZONE = "example.test"
HISTORY = f"/api/v1/zones/{ZONE}/history"


def rrset_url(name: str, rtype: str) -> str:
    return f"/api/v1/zones/{ZONE}/rrsets/{name}/{rtype}"


@pytest.fixture
async def home(world):
    """A host realm on home.example.test (A, TXT) and a token for it."""
    await world.zone(ZONE)
    alice = world.account("alice")
    return world.token(world.realm(alice, ZONE, "home", types=["A", "TXT"]))


async def put(client, secret, name, rtype, *records, ttl=300, request_id=None):
    headers = bearer(secret) | ({"X-Request-ID": request_id} if request_id else {})
    response = await client.put(rrset_url(name, rtype), headers=headers,
                                json={"ttl": ttl, "records": list(records)})
    assert response.status_code == 200, response.text
    return response


async def changes(client, secret, **params):
    response = await client.get(HISTORY, params=params, headers=bearer(secret))
    assert response.status_code == 200, response.text
    return response.json()["changes"]


async def test_history_shows_each_change_with_old_new_actor_surface_and_request(
        client, home, admin, world):
    first = await put(client, home.secret, "home.example.test", "A", "192.0.2.1")
    await put(client, home.secret, "home.example.test", "A", "192.0.2.2", ttl=60)
    await client.delete(rrset_url("home.example.test", "A"), headers=bearer(home.secret))
    found = await changes(client, home.secret, name="home.example.test", type="A")
    assert [(c["old"], c["new"]) for c in found] == [
        ({"ttl": 60, "records": ["192.0.2.2"]}, None),
        ({"ttl": 300, "records": ["192.0.2.1"]}, {"ttl": 60, "records": ["192.0.2.2"]}),
        (None, {"ttl": 300, "records": ["192.0.2.1"]}),
    ]
    oldest = found[-1]
    assert oldest["surface"] == "rest"
    assert oldest["request_id"] == first.headers["x-request-id"]
    assert oldest["actor"]["type"] == "token" and oldest["actor"]["id"] == home.id
    assert oldest["actor"]["realm_id"] is not None and oldest["actor"]["account_id"] is not None
    assert oldest["name"] == "home.example.test" and oldest["type"] == "A"
    assert found[0]["id"] > found[1]["id"] > found[2]["id"]


async def test_a_token_sees_the_history_of_its_realm_only(client, home, admin):
    await put(client, admin, "www.example.test", "A", "192.0.2.80")
    await put(client, home.secret, "home.example.test", "TXT", "mine")
    seen = await changes(client, home.secret)
    assert [(c["name"], c["type"]) for c in seen] == [("home.example.test", "TXT")]
    assert await changes(client, home.secret, name="www.example.test") == []
    everything = await changes(client, admin)
    assert {(c["name"], c["type"]) for c in everything} == {
        ("home.example.test", "TXT"), ("www.example.test", "A")}


async def test_history_pages_back_with_before_and_limit(client, home):
    for index in range(5):
        await put(client, home.secret, "home.example.test", "A", f"192.0.2.{index + 1}")
    page1 = await changes(client, home.secret, limit=2)
    page2 = await changes(client, home.secret, limit=2, before=page1[-1]["id"])
    page3 = await changes(client, home.secret, limit=2, before=page2[-1]["id"])
    records = [c["new"]["records"][0] for c in page1 + page2 + page3]
    assert records == [f"192.0.2.{n}" for n in (5, 4, 3, 2, 1)]


async def test_undo_writes_the_old_value_back_as_a_new_change(client, home, env):
    await put(client, home.secret, "home.example.test", "A", "192.0.2.1")
    await put(client, home.secret, "home.example.test", "A", "192.0.2.2")
    latest = (await changes(client, home.secret, type="A"))[0]
    undone = await client.post(f"{HISTORY}/{latest['id']}/undo", headers=bearer(home.secret))
    assert undone.status_code == 200, undone.text
    assert undone.json() == {"undone": [latest["id"]], "changed": 1, "unchanged": 0}
    now = await client.get(rrset_url("home.example.test", "A"), headers=bearer(home.secret))
    assert now.json()["records"] == ["192.0.2.1"]
    newest = (await changes(client, home.secret, type="A"))[0]
    assert newest["id"] > latest["id"]
    assert newest["old"]["records"] == ["192.0.2.2"] and newest["new"]["records"] == ["192.0.2.1"]
    assert newest["request_id"] == undone.headers["x-request-id"]
    assert audit_events(env, action="rrset.update", request_id=undone.headers["x-request-id"])


async def test_undo_of_a_creation_deletes_and_of_a_deletion_restores(client, home):
    await put(client, home.secret, "home.example.test", "TXT", "hello")
    created = (await changes(client, home.secret, type="TXT"))[0]
    assert (await client.post(f"{HISTORY}/{created['id']}/undo",
                              headers=bearer(home.secret))).status_code == 200
    gone = await client.get(rrset_url("home.example.test", "TXT"), headers=bearer(home.secret))
    assert gone.status_code == 404
    deleted = (await changes(client, home.secret, type="TXT"))[0]
    assert deleted["new"] is None
    assert (await client.post(f"{HISTORY}/{deleted['id']}/undo",
                              headers=bearer(home.secret))).status_code == 200
    back = await client.get(rrset_url("home.example.test", "TXT"), headers=bearer(home.secret))
    assert back.json()["records"] == ['"hello"']


async def test_an_older_change_is_not_undone_over_a_newer_one(client, home):
    await put(client, home.secret, "home.example.test", "A", "192.0.2.1")
    await put(client, home.secret, "home.example.test", "A", "192.0.2.2")
    older = (await changes(client, home.secret, type="A"))[1]
    refused = await client.post(f"{HISTORY}/{older['id']}/undo", headers=bearer(home.secret))
    assert_problem(refused, 409, "changed_since")
    now = await client.get(rrset_url("home.example.test", "A"), headers=bearer(home.secret))
    assert now.json()["records"] == ["192.0.2.2"]


async def test_a_whole_request_is_undone_in_one_call(client, home, admin):
    await put(client, admin, "home.example.test", "A", "192.0.2.1")
    batch = await client.patch(f"/api/v1/zones/{ZONE}/rrsets", headers=bearer(admin) | {
        "X-Request-ID": "batch-0001"}, json={"changes": [
            {"action": "upsert", "name": "home.example.test", "type": "A",
             "records": ["192.0.2.9"]},
            {"action": "upsert", "name": "www.example.test", "type": "A",
             "records": ["192.0.2.80"]}]})
    assert batch.status_code == 200, batch.text
    undone = await client.post(f"{HISTORY}/undo", params={"request_id": "batch-0001"},
                               headers=bearer(admin))
    assert undone.status_code == 200, undone.text
    assert undone.json()["changed"] == 2 and len(undone.json()["undone"]) == 2
    home_a = await client.get(rrset_url("home.example.test", "A"), headers=bearer(admin))
    assert home_a.json()["records"] == ["192.0.2.1"]
    www = await client.get(rrset_url("www.example.test", "A"), headers=bearer(admin))
    assert www.status_code == 404
    again = await client.post(f"{HISTORY}/undo", params={"request_id": "nothing-here"},
                              headers=bearer(admin))
    assert_problem(again, 404, "not_found")


async def test_changes_outside_the_realm_are_not_found_and_not_undone(client, home, admin):
    await put(client, admin, "www.example.test", "A", "192.0.2.80")
    theirs = (await changes(client, admin, name="www.example.test"))[0]
    refused = await client.post(f"{HISTORY}/{theirs['id']}/undo", headers=bearer(home.secret))
    assert_problem(refused, 404, "not_found")
    still = await client.get(rrset_url("www.example.test", "A"), headers=bearer(admin))
    assert still.json()["records"] == ["192.0.2.80"]


async def test_a_change_written_without_reading_first_cannot_be_undone(client, home, env):
    with env.db.write() as session:
        zone_id = session.execute(
            __import__("sqlalchemy").text("SELECT id FROM zones WHERE name = :z"),
            {"z": ZONE}).scalar_one()
        journal.append(session, zone_id=zone_id, zone=ZONE, steps=[journal.Step(
            "home.example.test", "A", None, RRset("home.example.test", "A", 300, ("192.0.2.5",)),
            old_known=False)], actor=journal.Actor("system", "cli", None, None, "cli", None),
            when=env.clock(), serial=None, builtin=False)
    blind = (await changes(client, home.secret, type="A"))[0]
    assert blind["old"] is None and blind["old_known"] is False
    refused = await client.post(f"{HISTORY}/{blind['id']}/undo", headers=bearer(home.secret))
    assert_problem(refused, 409, "old_unknown")


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "before=0", "type=NOPE",
                                   "name=a..b"])
async def test_bad_history_queries_are_clear_errors(client, home, query):
    response = await client.get(f"{HISTORY}?{query}", headers=bearer(home.secret))
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_history_of_an_unknown_zone_is_not_found(client, home):
    response = await client.get("/api/v1/zones/nowhere.test/history", headers=bearer(home.secret))
    assert_problem(response, 404, "zone_not_found")
