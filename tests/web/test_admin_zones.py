"""Admin console: zones -- add from a backend's zone list, edit the policy, grants."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dnsgate.backends.base import ZoneDefaults
from dnsgate.db.models import AuditEvent, Grant, Zone
from tests.web.conftest import PASSWORD

POLICY = {"visibility": "invite", "approval": "auto", "status": "active", "min_depth": "2",
          "max_depth": "3", "apex_allowed": "yes", "realm_quota": "5", "ttl_min": "30",
          "default_ttl": "120", "ttl_max": "3600"}


@pytest.fixture
async def root(browser, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as b:
        await b.login("root")
        yield b


def _zone(env, name: str) -> Zone | None:
    with env.db.read() as session:
        return session.scalars(select(Zone).where(Zone.name == name)).first()


def _policy(**changes) -> list[tuple[str, str]]:
    items = [(k, v) for k, v in {**POLICY, **changes}.items() if v is not None]
    return [*items, ("types", "A"), ("types", "TXT"), ("operations", "read"),
            ("operations", "update")]


async def test_add_a_zone_from_the_builtin_backends_list(root, env, zone):
    with env.db.write() as session:  # a zone the built-in store holds but nobody offers
        env.backends.builtin().create_zone_in(session, "spare.test", ZoneDefaults(
            nameservers=("ns1.spare.test",), hostmaster="hostmaster.spare.test"))
    page = await root.get("/ui/admin/zones")
    assert '<option value="builtin">builtin (builtin)</option>' in page.text
    assert 'href="/ui/admin/zones/example.test"' in page.text
    pick = await root.get("/ui/admin/zones/new?backend=builtin")
    assert '<option value="spare.test"' in pick.text
    assert '<option value="example.test"' not in pick.text  # offered already
    response = await root.submit("/ui/admin/zones", {"backend": "builtin",
                                                     "zone": "spare.test"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/admin/zones/spare.test?done=zone_added"
    added = _zone(env, "spare.test")
    assert added is not None and (added.visibility, added.approval) == ("private", "admin")
    with env.db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "zone.add")
                                .where(AuditEvent.zone == "spare.test")).one()
    assert event.details["surface"] == "web"


async def test_adding_refuses_with_a_field_error(root, env, zone):
    await root.get("/ui/admin/zones/new?backend=builtin")
    taken = await root.submit("/ui/admin/zones", {"backend": "builtin",
                                                  "new_zone": "example.test"})
    assert taken.status_code == 422
    assert 'id="new_zone-error">Zone example.test already exists.' in taken.text
    assert 'value="example.test"' in taken.text  # what was typed stays
    bad = await root.submit("/ui/admin/zones", {"backend": "builtin", "new_zone": "a..b"})
    assert bad.status_code == 422 and 'id="new_zone-error"' in bad.text
    empty = await root.submit("/ui/admin/zones", {"backend": "builtin"})
    assert empty.status_code == 422
    assert 'id="new_zone-error">Choose a zone or type its name.' in empty.text
    assert (await root.get("/ui/admin/zones/new?backend=nope")).status_code == 404
    assert (await root.submit("/ui/admin/zones", {"backend": "nope", "zone": "x.test"})
            ).status_code == 404


async def test_a_new_builtin_zone_by_name(root, env):
    await root.get("/ui/admin/zones/new?backend=builtin")
    response = await root.submit("/ui/admin/zones", {"backend": "builtin",
                                                     "new_zone": "Fresh.Test."})
    assert response.status_code == 303
    assert _zone(env, "fresh.test") is not None
    with env.db.read() as session:
        assert env.backends.builtin().has_zone_in(session, "fresh.test")


async def test_edit_the_policy(root, env, zone):
    page = await root.get(f"/ui/admin/zones/{zone}")
    assert '<option value="public" selected>' in page.text
    response = await root.submit(f"/ui/admin/zones/{zone}", _policy())
    assert response.status_code == 303
    assert response.headers["location"].endswith("done=zone_updated")
    row = _zone(env, zone)
    assert row is not None
    assert (row.visibility, row.approval, row.min_depth, row.max_depth, row.apex_allowed,
            row.realm_quota, row.ttl_min, row.default_ttl, row.ttl_max) == (
        "invite", "auto", 2, 3, True, 5, 30, 120, 3600)
    assert (row.allowed_types, row.allowed_ops) == (["A", "TXT"], ["read", "update"])
    again = await root.get(response.headers["location"])
    assert "The policy is saved" in again.text
    assert '<option value="invite" selected>' in again.text
    # empty limits clear them
    await root.submit(f"/ui/admin/zones/{zone}", _policy(max_depth="", realm_quota=""))
    row = _zone(env, zone)
    assert row is not None and (row.max_depth, row.realm_quota) == (None, None)


async def test_a_zone_attaches_more_labels(root, env, zone, world):
    from dnsgate.services import realms
    from dnsgate.services.context import RequestContext

    await root.get(f"/ui/admin/zones/{zone}")
    response = await root.submit(f"/ui/admin/zones/{zone}",
                                 _policy(attached_labels="_Custom, _keys", visibility="public"))
    assert response.status_code == 303, response.text
    row = _zone(env, zone)
    assert row is not None and row.attached_labels == ["_custom", "_keys"]
    page = await root.get(f"/ui/admin/zones/{zone}")
    assert 'value="_custom _keys"' in page.text
    # _custom.www now belongs to whoever holds www: a claim on it waits for an admin
    alice = world.account("alice2")
    claim = realms.request_realm(env, RequestContext(), caller=world.caller(alice),
                                 zone=zone, name="x._custom.www", kind="host")
    assert claim.status == "pending" and "attached_base" in claim.pending_reasons


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"min_depth": "0"}, "min_depth", "Enter a whole number from 1 to 127."),
    ({"max_depth": "x"}, "max_depth", "Enter a whole number from 1 to 127."),
    ({"min_depth": "3", "max_depth": "2"}, "max_depth",
     "The maximum depth must be at least the minimum depth."),
    ({"ttl_min": "600"}, "default_ttl", "Keep minimum TTL ≤ default TTL ≤ maximum TTL."),
    ({"ttl_max": ""}, "ttl_max", "Enter a number."),
    ({"visibility": "everyone"}, "visibility", "Choose one of the options."),
    ({"attached_labels": "_ok not-underscore"}, "attached_labels",
     "Labels start with &#39;_&#39;, one label each (such as _custom), separated by spaces."),
])
async def test_bad_policy_comes_back_with_the_field_error(root, env, zone, changes, field,
                                                         message):
    await root.get(f"/ui/admin/zones/{zone}")
    response = await root.submit(f"/ui/admin/zones/{zone}", _policy(**changes))
    assert response.status_code == 422
    assert f'id="{field}-error">{message}</p>' in response.text
    for name, value in changes.items():
        if name != "visibility":
            assert f'value="{value}"' in response.text  # kept as typed
    row = _zone(env, zone)
    assert row is not None and row.visibility == "public" and row.min_depth == 1  # unchanged


async def test_no_types_is_refused(root, env, zone):
    await root.get(f"/ui/admin/zones/{zone}")
    items = [(k, v) for k, v in _policy() if k != "types"]
    response = await root.submit(f"/ui/admin/zones/{zone}", items)
    assert response.status_code == 422
    assert 'id="types-error">Choose at least one record type.' in response.text


async def test_grants_create_and_revoke(root, world, env, alice_id, browser):
    await world.zone("private.test", visibility="private")
    page = await root.get("/ui/admin/zones/private.test")
    assert "No grants." in page.text
    response = await root.submit("/ui/admin/zones/private.test/grants", [
        ("account", "alice"), ("types", "TXT"), ("operations", "read"),
        ("operations", "create"), ("max_realms", "2"), ("expires_days", "30")])
    assert response.status_code == 303
    with env.db.read() as session:
        grant = session.scalars(select(Grant)).one()
    assert (grant.account_id, grant.types, grant.ops, grant.max_realms) == (
        alice_id, ["TXT"], ["read", "create"], 2)
    assert grant.expires_at is not None
    page = await root.get("/ui/admin/zones/private.test")
    assert '<td data-label="Account">alice</td>' in page.text and "status-active" in page.text
    async with browser() as alice:  # the grant lets alice see the private zone
        await alice.login("alice")
        assert "private.test" in (await alice.get("/ui/realms/request")).text
        again = await root.submit("/ui/admin/zones/private.test/grants", {"account": "alice"})
        assert again.status_code == 422
        assert "alice already has a grant on this zone" in again.text
        revoked = await root.submit(f"/ui/admin/grants/{grant.id}/revoke")
        assert revoked.headers["location"] == "/ui/admin/zones/private.test?done=grant_revoked"
        assert "private.test" not in (await alice.get("/ui/realms/request")).text
    with env.db.read() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.startswith("grant."))))
    assert actions == ["grant.create", "grant.revoke"]


async def test_grant_form_errors_keep_what_was_typed(root, world, env):
    await world.zone("private.test", visibility="private")
    await root.get("/ui/admin/zones/private.test")
    response = await root.submit("/ui/admin/zones/private.test/grants", {
        "account": "nobody", "max_realms": "-1", "expires_days": "0"})
    assert response.status_code == 422
    text = response.text
    assert 'id="account-error">Enter the name of an existing account.' in text
    assert 'id="max_realms-error">Enter a whole number from 0 to 1000000.' in text
    assert 'id="expires_days-error">Enter a whole number from 1 to 3650.' in text
    assert 'value="nobody"' in text
    with env.db.read() as session:
        assert session.scalars(select(Grant)).first() is None


async def test_unknown_zone_and_grant_are_404(root):
    assert (await root.get("/ui/admin/zones/none.test")).status_code == 404
    assert (await root.submit("/ui/admin/zones/none.test", _policy())).status_code == 404
    assert (await root.submit("/ui/admin/grants/999/revoke")).status_code == 404


async def test_a_disabled_zone_shows_as_text(root, world, env):
    name = await world.zone("off.test", status="disabled")
    page = await root.get("/ui/admin/zones")
    assert f'href="/ui/admin/zones/{name}">{name}</a>' in page.text
    assert "status-disabled" in page.text and ">disabled</span>" in page.text
