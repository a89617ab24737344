"""Backends in the UI: the form generated from each provider's model, "My backends"
(bring your own DNS, against a real PowerDNS) and the admin's backends pages."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from dnsgate.backends import registry
from dnsgate.backends.sealing import unsealed
from dnsgate.db.models import AuditEvent, Backend, Realm, Zone
from dnsgate.domain.errors import NotFound
from dnsgate.domain.policy import Principal, ZonePolicy, decide
from dnsgate.services import realms, zones
from dnsgate.services.context import RequestContext
from dnsgate.services.zones import visible_zones
from dnsgate.web import provider_forms
from dnsgate.web.backend_pages import offered
from dnsgate.web.forms import Form
from tests.support import pdns
from tests.web.conftest import PASSWORD

TSIG = base64.b64encode(b"a tsig secret of some length!!").decode()
#: A valid configuration of every provider; its secrets must never be shown back.
SAMPLES: dict[str, dict[str, Any]] = {
    "powerdns": {"api_url": "http://127.0.0.1:9", "api_key": "pdns-key-SECRET1"},
    "rfc2136": {"server": "127.0.0.1", "tsig_key_name": "dnsgate.", "tsig_secret": TSIG,
                "zones": ["a.test", "b.test"], "tsig_algorithm": "hmac-sha512"},
    "route53": {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "r53-SECRET2",
                "hosted_zone_ids": {"a.test": "Z0123"}},
    "cloudflare": {"api_token": "cfSECRET3token", "max_batch": 50},
    "netcup": {"customer_number": "12345", "api_key": "netcup-SECRET4",
               "api_password": "netcup-SECRET5", "zones": ["a.test"]},
    "lexicon": {"provider_name": "cloudflare",
                "credentials": {"auth_token": "lexSECRET6", "zone_id": "abc"}},
}
SECRETS = ("pdns-key-SECRET1", TSIG, "r53-SECRET2", "cfSECRET3token", "netcup-SECRET4",
           "netcup-SECRET5", "lexSECRET6")


@pytest.fixture
def settings(settings):
    """The accounts' own PowerDNS runs on loopback here: the operator opens it
    (DNSGATE_BYOD_ALLOW_NETWORKS); without it the egress guard refuses loopback."""
    from dnsgate.config import Settings

    return Settings(**{**settings.model_dump(), "byod_allow_networks": "127.0.0.0/8"})


def test_every_provider_has_a_sample():
    assert {p.name for p in offered(None)} == set(SAMPLES)


def _filled(provider: str, config: dict[str, Any]) -> dict[str, str]:
    """The form a person fills in for ``config`` (secrets typed in)."""
    model = registry.provider(provider).config_model
    values = provider_forms.form_values(model, json.loads(json.dumps(
        model.model_validate(config).model_dump(mode="json"))))
    for field in provider_forms.config_fields(model):
        if field.control == "password" and field.name in config:
            values[field.input_name] = config[field.name]
        if field.control == "pairs" and field.name in config:
            values[field.input_name] = "\n".join(f"{k}={v}" for k, v in
                                                 config[field.name].items())
    return values


def _stored(env, name: str) -> dict[str, Any]:
    with env.db.read() as session:
        row = session.scalars(select(Backend).where(Backend.name == name)).one()
        return unsealed(env.key, row.config)


def _audit_text(env) -> str:
    with env.db.read() as session:
        return json.dumps([[e.action, e.details, e.target] for e in
                           session.scalars(select(AuditEvent))], default=str)


@pytest.fixture
async def root(browser, world):
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as b:
        await b.login("root")
        yield b


@pytest.mark.parametrize("provider", sorted(SAMPLES))
async def test_generated_form_adds_and_edits_every_provider(root, world, provider):
    model = registry.provider(provider).config_model
    page = await root.get(f"/ui/admin/backends/new?provider={provider}")
    assert page.status_code == 200
    for field in provider_forms.config_fields(model):
        assert f'<label for="{field.input_name}"' in page.text or (
            field.control == "checkbox" and f'for="{field.input_name}"' in page.text)
    added = await root.submit(f"/ui/admin/backends/new?provider={provider}",
                              {"name": f"b-{provider}", **_filled(provider, SAMPLES[provider])})
    assert added.status_code == 303, added.text
    expected = model.model_validate(SAMPLES[provider])
    assert model.model_validate(_stored(world.env, f"b-{provider}")) == expected

    edit_page = await root.get(added.headers["location"])
    assert edit_page.status_code == 200
    assert ("Leave empty to keep the stored secret." in edit_page.text
            or "=**********" in edit_page.text)
    view_config = json.loads(json.dumps(expected.model_dump(mode="json")))
    unchanged = provider_forms.form_values(model, view_config)  # what the page shows
    saved = await root.submit(added.headers["location"], unchanged)
    assert saved.status_code == 303, saved.text
    assert model.model_validate(_stored(world.env, f"b-{provider}")) == expected
    after = await root.get(saved.headers["location"])
    for secret in SECRETS:
        assert secret not in edit_page.text and secret not in after.text
        assert secret not in _audit_text(world.env)


def test_round_trip_without_a_browser():
    for provider, config in SAMPLES.items():
        model = registry.provider(provider).config_model
        form = Form(list(_filled(provider, config).items()))
        parsed = provider_forms.config_from_form(model, form)
        assert model.model_validate(parsed) == model.model_validate(config), provider


def test_controls_follow_the_annotations():
    by_name = {f.name: f for f in provider_forms.config_fields(
        registry.provider("rfc2136").config_model)}
    assert by_name["tsig_secret"].control == "password" and by_name["tsig_secret"].required
    assert by_name["tsig_algorithm"].control == "select"
    assert "hmac-sha256" in by_name["tsig_algorithm"].choices
    assert by_name["port"].control == "number" and not by_name["port"].required
    assert by_name["zones"].control == "lines"
    route53 = {f.name: f for f in provider_forms.config_fields(
        registry.provider("route53").config_model)}
    assert route53["hosted_zone_ids"].control == "pairs"
    assert route53["session_token"].control == "password" and not route53["session_token"].required


async def test_a_new_secret_replaces_the_stored_one(root, world):
    added = await root.submit("/ui/admin/backends/new?provider=powerdns",
                              {"name": "p", **_filled("powerdns", SAMPLES["powerdns"])})
    await root.get(added.headers["location"])
    saved = await root.submit(added.headers["location"], {
        "cfg_api_url": "http://127.0.0.1:10", "cfg_api_key": "a-new-key", "cfg_timeout": "5",
        "cfg_server_id": "localhost"})
    assert saved.status_code == 303
    stored = _stored(world.env, "p")
    assert stored["api_key"] == "a-new-key" and stored["api_url"] == "http://127.0.0.1:10"
    assert stored["timeout"] == 5


async def test_errors_come_back_by_field_and_keep_what_was_typed(alice_browser, world):
    await alice_browser.get("/ui/backends/new?provider=powerdns")
    page = await alice_browser.submit("/ui/backends/new?provider=powerdns", {
        "name": "mine", "cfg_api_url": "ftp://dns.example", "cfg_api_key": "typed-SECRET",
        "cfg_timeout": "500"})
    assert page.status_code == 422
    assert 'id="cfg_api_url-error">Error' not in page.text  # CSS adds the prefix, not text
    assert 'id="cfg_api_url-error">must be an http or https URL' in page.text
    assert 'id="cfg_timeout-error">Input should be less than or equal to 120' in page.text
    assert 'value="ftp://dns.example"' in page.text and 'value="mine"' in page.text
    assert "typed-SECRET" not in page.text
    missing = await alice_browser.submit("/ui/backends/new?provider=powerdns",
                                         {"name": "mine", "cfg_api_url": "http://127.0.0.1:9"})
    assert 'id="cfg_api_key-error">Required.' in missing.text
    taken = await alice_browser.submit("/ui/backends/new?provider=powerdns",
                                       {"name": "Bad Name", **_filled("powerdns",
                                                                      SAMPLES["powerdns"])})
    assert 'id="name-error">backend names are' in taken.text
    with world.env.db.read() as session:
        assert session.scalars(select(Backend)).all() == [] or all(
            b.provider == "builtin" for b in session.scalars(select(Backend)))


async def test_accounts_add_only_the_providers_the_operator_allows(alice_browser, world):
    picker = await alice_browser.get("/ui/backends/new")
    assert 'value="powerdns"' in picker.text
    assert 'value="lexicon"' not in picker.text and 'value="builtin"' not in picker.text
    refused = await alice_browser.submit("/ui/backends/new?provider=lexicon",
                                         {"name": "lex", **_filled("lexicon",
                                                                   SAMPLES["lexicon"])})
    assert refused.status_code == 422
    with world.env.db.read() as session:
        assert session.scalars(select(Backend).where(Backend.name == "lex")).first() is None


# --- bring your own DNS against a real PowerDNS ---------------------------------

@pytest.fixture(scope="module")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns.PowerDNS]:
    server = pdns.start(tmp_path_factory.mktemp("pdns-ui"))
    server.create_zone("own.test")
    server.create_zone("other.test")
    yield server
    server.stop()


async def _add_own(b, powerdns: pdns.PowerDNS, name: str = "home-dns") -> str:
    await b.get("/ui/backends/new?provider=powerdns")
    added = await b.submit("/ui/backends/new?provider=powerdns", {
        "name": name, "cfg_api_url": powerdns.api_url, "cfg_api_key": powerdns.api_key})
    assert added.status_code == 303, added.text
    return added.headers["location"].split("?")[0]


async def test_my_backend_checked_zones_used_for_a_realm(alice_browser, alice_id, world,
                                                         powerdns):
    where = await _add_own(alice_browser, powerdns)
    checked = await alice_browser.submit(f"{where}/check", {})
    page = await alice_browser.get(checked.headers["location"])
    # an account's own backend says a fixed sentence, never the provider's words
    assert ">ok</span> Connected; the provider accepted" in page.text
    assert "PowerDNS" not in page.text.split('id="health"')[1].split("</dd>")[0]
    assert powerdns.api_key not in page.text
    listing = await alice_browser.get("/ui/backends")
    assert "home-dns" in listing.text and ">ok</span>" in listing.text

    zones_page = await alice_browser.get(f"{where}/zones")
    assert "<code>own.test</code>" in zones_page.text
    used = await alice_browser.submit(f"{where}/zones",
                                      {"zone": "own.test", "name": "", "kind": "subtree"})
    assert used.status_code == 303 and used.headers["location"].startswith("/ui/tokens")
    with world.env.db.read() as session:
        zone = session.scalars(select(Zone).where(Zone.name == "own.test")).one()
        realm = session.scalars(select(Realm).where(Realm.zone_id == zone.id)).one()
        assert zone.visibility == "private"
        assert (realm.account_id, realm.name, realm.kind, realm.status) == (
            alice_id, "own.test", "subtree", "approved")
    tokens_page = await alice_browser.get("/ui/tokens")
    assert "own.test (subtree" in tokens_page.text


async def test_a_bad_key_fails_the_check_and_leaks_nothing(alice_browser, world, powerdns):
    await alice_browser.get("/ui/backends/new?provider=powerdns")
    added = await alice_browser.submit("/ui/backends/new?provider=powerdns", {
        "name": "wrong", "cfg_api_url": powerdns.api_url, "cfg_api_key": "wrong-KEY-123"})
    where = added.headers["location"].split("?")[0]
    checked = await alice_browser.submit(f"{where}/check", {})
    page = await alice_browser.get(checked.headers["location"])
    assert ">failing</span> The provider refused the credentials." in page.text
    assert "wrong-KEY-123" not in page.text and "wrong-KEY-123" not in _audit_text(world.env)
    zones_page = await alice_browser.get(f"{where}/zones")
    assert zones_page.status_code == 200 and "did not answer or refused" in zones_page.text


async def test_only_the_owner_uses_their_backend_and_zone(browser, alice_browser, alice_id,
                                                          world, powerdns):
    where = await _add_own(alice_browser, powerdns)
    await alice_browser.get(f"{where}/zones")
    await alice_browser.submit(f"{where}/zones", {"zone": "own.test", "name": "www",
                                                  "kind": "host"})
    bob = world.account("bob", password=PASSWORD)
    root = world.account("root", admin=True, password=PASSWORD)
    env, ctx = world.env, RequestContext()
    with env.db.read() as session:
        assert "own.test" in [z.name for z in visible_zones(session, world.caller(alice_id),
                                                             env.clock())]
        assert "own.test" not in [z.name for z in visible_zones(session, world.caller(bob),
                                                                env.clock())]
    with pytest.raises(NotFound):
        realms.request_realm(env, ctx, caller=world.caller(bob), zone="own.test",
                             name="x", kind="host")
    with pytest.raises(NotFound):  # for anyone else, even an admin, it is not a zone
        realms.request_realm(env, ctx, caller=world.caller(root), zone="own.test",
                             name="x", kind="host", account_id=bob)
    with pytest.raises(NotFound):  # nor offers another zone of alice's backend
        await zones.add_zone(env, ctx, caller=world.caller(root), zone="other.test",
                             backend="home-dns")
    with env.db.read() as session:
        info = zones.find_zone(session, "own.test", owner_id=alice_id)
    assert info.policy.owner_id == alice_id
    now = datetime.now(UTC)
    admin = Principal(account_id=root, account_active=True, is_admin=True, realms=())
    assert not decide(admin, "update", info.policy, "x.own.test", "A", None, now).allowed
    assert decide(admin, "update", ZonePolicy(name="own.test"), "x.own.test", "A", None,
                  now).allowed

    backend_id = where.rsplit("/", 1)[1]
    async with browser() as other:
        await other.login("bob")
        for path in (where, f"{where}/zones"):
            assert (await other.get(path)).status_code == 404
        for path in (where, f"{where}/check", f"{where}/zones", f"{where}/disable"):
            assert (await other.submit(path, {"zone": "own.test", "kind": "host"})
                    ).status_code == 404
        assert "home-dns" not in (await other.get("/ui/backends")).text
    with env.db.read() as session:
        denials = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "web.access", AuditEvent.code == "not_found",
            AuditEvent.account_id == bob)).all()
    assert len(denials) == 6 and all(backend_id in d.target for d in denials)


async def test_admin_lists_checks_and_disables_but_does_not_edit_an_own_backend(
        browser, alice_browser, world, powerdns):
    where = await _add_own(alice_browser, powerdns)
    backend_id = where.rsplit("/", 1)[1]
    world.account("root", admin=True, password=PASSWORD)
    async with browser() as root:
        await root.login("root")
        listing = await root.get("/ui/admin/backends")
        assert "home-dns" in listing.text and "alice" in listing.text
        page = await root.get(f"/ui/admin/backends/{backend_id}")
        assert "only its owner changes its configuration" in page.text
        refused = await root.submit(f"/ui/admin/backends/{backend_id}", {
            "cfg_api_url": "http://127.0.0.1:9", "cfg_timeout": "10",
            "cfg_server_id": "localhost"})
        assert refused.status_code == 422
        assert "only its owner changes" in refused.text
        assert _stored(world.env, "home-dns")["api_url"] == powerdns.api_url
        await root.submit(f"/ui/admin/backends/{backend_id}/check", {})
        await root.submit(f"/ui/admin/backends/{backend_id}/disable", {})
        with world.env.db.read() as session:
            row = session.get(Backend, int(backend_id))
            assert (row.status, row.health_status) == ("disabled", "ok")
        await root.submit(f"/ui/admin/backends/{backend_id}/enable", {})
        with world.env.db.read() as session:
            assert session.get(Backend, int(backend_id)).status == "active"
    disabled = await alice_browser.submit(f"{where}/disable", {})
    assert disabled.status_code == 303
    with world.env.db.read() as session:
        assert session.get(Backend, int(backend_id)).status == "disabled"
