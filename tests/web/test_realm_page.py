"""The realm page: the records inside the realm, edited through the same services
as the API; refusals as field errors; another's realm is 404; a DNS provider
that is down is a clear 502 page, not a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from dnsgate.db.models import AuditEvent
from dnsgate.services import backends
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from tests.support import pdns
from tests.support.api import zone_state
from tests.support.server import free_port
from tests.web.conftest import PASSWORD


@pytest.fixture
async def realm_id(world, zone, alice_id) -> int:
    world.realm(alice_id, zone, "home", kind="subtree", types=["A", "TXT"])
    from dnsgate.services import realms

    (found,) = [r for r, _ in realms.list_realms(world.env, account_id=alice_id)]
    return found.id


def _events(env, **where) -> list[AuditEvent]:
    with env.db.read() as session:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, key) == value)
        return list(session.scalars(stmt))


async def _records(client, admin, name: str, rtype: str = "A") -> list[str]:
    state = await zone_state(client, admin)
    return [v for rr in state if rr["name"] == name and rr["type"] == rtype
            for v in rr["records"]]


async def test_add_edit_delete(alice_browser, realm_id, env, client, admin):
    page = await alice_browser.get(f"/ui/realms/{realm_id}")
    assert page.status_code == 200
    assert "home.example.test" in page.text and "No records in this realm yet." in page.text
    saved = await alice_browser.submit(f"/ui/realms/{realm_id}/rrsets", {
        "name": "www", "type": "A", "ttl": "300", "records": "192.0.2.1\n192.0.2.2\n"})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/ui/realms/{realm_id}?done=rrset_saved"
    assert sorted(await _records(client, admin, "www.home.example.test")) == [
        "192.0.2.1", "192.0.2.2"]
    shown = await alice_browser.get(saved.headers["location"])
    assert "The record set is saved." in shown.text and "192.0.2.2" in shown.text
    editing = await alice_browser.get(f"/ui/realms/{realm_id}",
                                      params={"name": "www.home.example.test", "type": "A"})
    assert "Edit a record set" in editing.text
    assert ">192.0.2.1\n192.0.2.2</textarea>" in editing.text
    edited = await alice_browser.submit(f"/ui/realms/{realm_id}/rrsets", {
        "name": "www.home.example.test", "type": "A", "ttl": "300", "records": "192.0.2.3"})
    assert edited.status_code == 303
    assert await _records(client, admin, "www.home.example.test") == ["192.0.2.3"]
    apex = await alice_browser.submit(f"/ui/realms/{realm_id}/rrsets", {
        "name": "", "type": "TXT", "ttl": "", "records": "hello, world"})
    assert apex.status_code == 303
    assert await _records(client, admin, "home.example.test", "TXT") == ['"hello, world"']
    deleted = await alice_browser.submit(f"/ui/realms/{realm_id}/rrsets/delete", {
        "name": "www.home.example.test", "type": "A"})
    assert deleted.headers["location"] == f"/ui/realms/{realm_id}?done=rrset_deleted"
    assert await _records(client, admin, "www.home.example.test") == []
    actions = [(e.action, e.name, e.details.get("surface"))
               for e in _events(env, zone="example.test", outcome="success")
               if e.action.startswith("rrset.")]
    assert actions == [("rrset.create", "www.home.example.test", "web"),
                       ("rrset.update", "www.home.example.test", "web"),
                       ("rrset.create", "home.example.test", "web"),
                       ("rrset.delete", "www.home.example.test", "web")]


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"name": "www", "type": "A", "records": "not-an-ip"}, "records", "invalid A record"),
    ({"name": "www.example.test", "type": "A", "records": "192.0.2.1"}, "name",
     "This name is outside the realm home.example.test."),
    ({"name": "x.other.test.", "type": "A", "records": "192.0.2.1"}, "name", "not in zone"),
    ({"name": "bad..name", "type": "A", "records": "192.0.2.1"}, "name", ""),
    ({"name": "www", "type": "MX", "records": "10 mail.example.test."}, "type",
     "This realm does not allow MX records."),
    ({"name": "www", "type": "A", "ttl": "5", "records": "192.0.2.1"}, "ttl", "ttl must be"),
    ({"name": "www", "type": "A", "ttl": "soon", "records": "192.0.2.1"}, "ttl", "whole seconds"),
    ({"name": "www", "type": "A", "records": "  "}, "records", "at least one record"),
])
async def test_refusals_are_field_errors_and_keep_the_input(alice_browser, realm_id, env,
                                                            client, admin, form, field,
                                                            message):
    response = await alice_browser.submit(f"/ui/realms/{realm_id}/rrsets",
                                          {"ttl": "", **form})
    assert response.status_code == 422, response.text
    assert f'id="{field}-error"' in response.text
    assert message in response.text.split(f'id="{field}-error">', 1)[1].split("</p>")[0]
    assert f'value="{form["name"]}"' in response.text
    assert not [rr for rr in await zone_state(client, admin) if rr["name"].startswith("www")]


async def test_a_denial_is_audited(alice_browser, realm_id, env):
    await alice_browser.submit(f"/ui/realms/{realm_id}/rrsets", {
        "name": "www.example.test", "type": "A", "records": "192.0.2.1"})
    (denial,) = _events(env, outcome="denied", name="www.example.test")
    assert denial.code == "name_outside_realm" and denial.details["surface"] == "web"


async def test_another_accounts_realm_is_not_found(browser, world, realm_id, env):
    world.account("bob", password=PASSWORD)
    async with browser() as b:
        await b.login("bob")
        assert (await b.get(f"/ui/realms/{realm_id}")).status_code == 404
        posted = await b.submit(f"/ui/realms/{realm_id}/rrsets", {
            "name": "www", "type": "A", "records": "192.0.2.1"})
        assert posted.status_code == 404
        assert (await b.get("/ui/realms/999999")).status_code == 404
    refused = _events(env, action="web.access", outcome="denied")
    assert [e.target for e in refused] == [f"/ui/realms/{realm_id}",
                                           f"/ui/realms/{realm_id}/rrsets", "/ui/realms/999999"]


async def test_pending_realm_has_no_editor(browser, world, alice_id):
    await world.zone("approve.test", approval="admin")
    from dnsgate.services import realms
    from dnsgate.services.context import RequestContext

    pending = realms.request_realm(world.env, RequestContext(), caller=world.caller(alice_id),
                                   zone="approve.test", name="wait", kind="host")
    async with browser() as b:
        await b.login("alice")
        page = await b.get(f"/ui/realms/{pending.id}")
        assert "pending" in page.text and "once the realm is approved" in page.text
        assert "Save record set" not in page.text
        posted = await b.submit(f"/ui/realms/{pending.id}/rrsets", {
            "name": "", "type": "A", "records": "192.0.2.1"})
    assert posted.status_code == 422 and "not approved" in posted.text


async def test_dashboard_links_to_the_realm_page(alice_browser, realm_id):
    page = await alice_browser.get("/ui/")
    assert f'href="/ui/realms/{realm_id}"' in page.text


# --- a real PowerDNS, then the same backend pointing at a closed port -----------

@pytest.fixture(scope="module")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDNS]:
    server = pdns.start(tmp_path_factory.mktemp("pdns-realm-page"))
    try:
        yield server
    finally:
        server.stop()


async def test_powerdns_records_and_a_provider_that_is_down(
        browser, world, env, alice_id, powerdns, worker_id):
    zone = f"realm-{worker_id}-{alice_id}.test"
    powerdns.create_zone(zone)
    config = {"api_url": powerdns.api_url, "api_key": powerdns.api_key}
    backends.add_backend(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name="pdns",
                         provider="powerdns", config=config)
    try:
        await world.zone(zone, backend="pdns")
        world.realm(alice_id, zone, "lab", kind="subtree", types=["A", "TXT"])
        from dnsgate.services import realms

        (realm, _), = realms.list_realms(env, account_id=alice_id)
        async with browser() as b:
            await b.login("alice")
            saved = await b.submit(f"/ui/realms/{realm.id}/rrsets", {
                "name": "host", "type": "A", "ttl": "300", "records": "192.0.2.44"})
            assert saved.status_code == 303, saved.text
            page = await b.get(f"/ui/realms/{realm.id}")
            assert f"host.lab.{zone}" in page.text and "192.0.2.44" in page.text
            assert powerdns.api("GET", f"/zones/{zone}.").text.count("192.0.2.44") == 1

            closed = {"api_url": f"http://127.0.0.1:{free_port()}", "timeout": 2}
            await backends.update_backend(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                          name="pdns", config=closed)
            down = await b.get(f"/ui/realms/{realm.id}")
            assert down.status_code == 502
            assert "did not answer" in down.text and "lab." + zone in down.text
            posted = await b.submit(f"/ui/realms/{realm.id}/rrsets", {
                "name": "host", "type": "A", "ttl": "300", "records": "192.0.2.45"})
            assert posted.status_code == 502 and "Nothing was changed" in posted.text
            assert 'value="host"' in posted.text and "192.0.2.45</textarea>" in posted.text
        assert "192.0.2.45" not in powerdns.api("GET", f"/zones/{zone}.").text
        errors = _events(env, zone=zone, outcome="error")
        assert errors and all(e.code == "backend_unavailable" for e in errors)
    finally:
        await env.backends.aclose()
