"""Route x role matrix for everything under ``/ui``, generated from the app's route table.

Every UI route has an expected status for each role in ``MATRIX``; a route
the app serves without an entry here (or an entry without a route) fails
``test_every_ui_route_has_an_entry``. Each case runs on a fresh database, as
a browser would: signed in through the login form, posting with the page's
CSRF token (CSRF itself is tested in test_csrf.py), so what is checked is
who may do what.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from tests.web.conftest import PASSWORD

ROLES = ("anonymous", "user", "other", "admin")


@pytest.fixture
def settings(settings):
    """Alice's own backend is a closed loopback port: the operator opens loopback
    to accounts' own backends (DNSGATE_BYOD_ALLOW_NETWORKS)."""
    from dnsgate.config import Settings

    return Settings(**{**settings.model_dump(), "byod_allow_networks": "127.0.0.0/8"})


def row(anonymous: int, user: int, other: int, admin: int) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, user, other, admin), strict=True))


# "user" owns the token and the pending realm the paths name; "other" is
# another plain account. Forms are posted empty (422: re-rendered with errors).
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/ui/"): row(303, 200, 200, 200),
    ("GET", "/ui/login"): row(200, 303, 303, 303),
    ("POST", "/ui/login"): row(422, 422, 422, 422),
    ("POST", "/ui/logout"): row(303, 303, 303, 303),
    ("POST", "/ui/logout-everywhere"): row(303, 303, 303, 303),
    ("GET", "/ui/tokens"): row(303, 200, 200, 200),
    ("POST", "/ui/tokens"): row(303, 422, 422, 422),
    ("POST", "/ui/tokens/{token_id}/revoke"): row(303, 303, 404, 303),
    ("GET", "/ui/realms/request"): row(303, 200, 200, 200),
    ("GET", "/ui/realms/preview"): row(303, 200, 200, 200),
    ("POST", "/ui/realms/request"): row(303, 422, 422, 422),
    ("GET", "/ui/admin/approvals"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/realms/{realm_id}/approve"): row(303, 403, 403, 303),
    ("POST", "/ui/admin/realms/{realm_id}/reject"): row(303, 403, 403, 422),
    ("GET", "/ui/admin/accounts"): row(303, 403, 403, 200),
    # --- account security (2FA, sessions, API keys)
    ("GET", "/ui/security"): row(303, 200, 200, 200),
    ("GET", "/ui/security/2fa/setup"): row(303, 200, 200, 200),
    ("POST", "/ui/security/2fa/setup"): row(303, 422, 422, 422),
    ("POST", "/ui/security/2fa/disable"): row(303, 422, 422, 422),
    ("POST", "/ui/security/recovery-codes"): row(303, 422, 422, 422),
    ("POST", "/ui/security/sessions/{session_ref}/revoke"): row(303, 303, 404, 404),
    ("POST", "/ui/security/api-keys"): row(303, 422, 422, 422),
    ("POST", "/ui/security/api-keys/{key_id}/revoke"): row(303, 303, 404, 404),
    ("GET", "/ui/login/2fa"): row(303, 303, 303, 303),  # no password step: to /ui/login
    ("POST", "/ui/login/2fa"): row(303, 303, 303, 303),
    ("GET", "/ui/admin/settings"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/settings"): row(303, 403, 403, 422),
    ("POST", "/ui/admin/accounts/{account_id}/reset-2fa"): row(303, 403, 403, 303),
    # --- registration, verification, invites, password reset
    ("GET", "/ui/register"): row(200, 303, 303, 303),
    ("POST", "/ui/register"): row(403, 303, 303, 303),  # sign-up is closed by default
    ("GET", "/ui/verify"): row(400, 400, 400, 400),  # no token
    ("GET", "/ui/verify/resend"): row(200, 200, 200, 200),
    ("POST", "/ui/verify/resend"): row(422, 422, 422, 422),
    ("GET", "/ui/password/forgot"): row(200, 200, 200, 200),
    ("POST", "/ui/password/forgot"): row(422, 422, 422, 422),
    ("GET", "/ui/password/reset"): row(400, 400, 400, 400),  # no token
    ("POST", "/ui/password/reset"): row(422, 422, 422, 422),
    ("GET", "/ui/password/change"): row(303, 200, 200, 200),
    ("POST", "/ui/password/change"): row(303, 422, 422, 422),
    ("GET", "/ui/admin/registration"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/registration"): row(303, 403, 403, 422),
    ("POST", "/ui/admin/accounts/{account_id}/approve"): row(303, 403, 403, 303),
    ("GET", "/ui/admin/invites"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/invites"): row(303, 403, 403, 422),
    ("POST", "/ui/admin/invites/{invite_id}/revoke"): row(303, 403, 403, 303),
    # --- realm page, activity, audit, dashboards
    ("GET", "/ui/activity"): row(303, 200, 200, 200),
    ("GET", "/ui/activity.csv"): row(303, 200, 200, 200),
    ("GET", "/ui/admin/audit"): row(303, 403, 403, 200),
    ("GET", "/ui/admin/audit.csv"): row(303, 403, 403, 200),
    ("GET", "/ui/admin/"): row(303, 403, 403, 200),
    ("GET", "/ui/realms/{realm_id}"): row(303, 200, 404, 200),
    ("POST", "/ui/realms/{realm_id}/rrsets"): row(303, 422, 404, 422),
    ("POST", "/ui/realms/{realm_id}/rrsets/delete"): row(303, 422, 404, 422),
    ("POST", "/ui/realms/{realm_id}/history/{entry_id}/undo"): row(303, 404, 404, 404),
    ("POST", "/ui/admin/zones/{zone}/history/{entry_id}/undo"): row(303, 403, 403, 404),
    ("GET", "/ui/realms/{realm_id}/explain"): row(303, 422, 404, 422),  # no question asked
    ("GET", "/ui/tokens/explain"): row(303, 404, 404, 404),  # no token named
    # --- admin: accounts, zones, grants, tokens
    ("GET", "/ui/admin/accounts/{account_id}"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/accounts/{account_id}/disable"): row(303, 403, 403, 303),
    ("POST", "/ui/admin/accounts/{account_id}/enable"): row(303, 403, 403, 303),
    ("GET", "/ui/admin/accounts/{account_id}/delete"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/accounts/{account_id}/delete"): row(303, 403, 403, 303),
    ("GET", "/ui/admin/zones"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/zones"): row(303, 403, 403, 422),
    ("GET", "/ui/admin/zones/new"): row(303, 403, 403, 303),
    ("GET", "/ui/admin/zones/{zone}"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/zones/{zone}"): row(303, 403, 403, 422),
    ("POST", "/ui/admin/zones/{zone}/grants"): row(303, 403, 403, 422),
    ("POST", "/ui/admin/grants/{grant_id}/revoke"): row(303, 403, 403, 303),
    ("GET", "/ui/admin/tokens"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/tokens/{token_id}/revoke"): row(303, 403, 403, 303),
    # --- backends (mine and admin): "user" owns the backend ("admin" has none of its own)
    ("GET", "/ui/backends"): row(303, 200, 200, 200),
    ("GET", "/ui/backends/new"): row(303, 200, 200, 200),
    ("POST", "/ui/backends/new"): row(303, 422, 422, 422),
    ("GET", "/ui/backends/{backend_id}"): row(303, 200, 404, 404),
    ("POST", "/ui/backends/{backend_id}"): row(303, 422, 404, 404),
    ("POST", "/ui/backends/{backend_id}/check"): row(303, 303, 404, 404),
    ("GET", "/ui/backends/{backend_id}/zones"): row(303, 200, 404, 404),
    ("POST", "/ui/backends/{backend_id}/zones"): row(303, 422, 404, 404),
    ("POST", "/ui/backends/{backend_id}/disable"): row(303, 303, 404, 404),
    ("GET", "/ui/admin/backends"): row(303, 403, 403, 200),
    ("GET", "/ui/admin/backends/new"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/backends/new"): row(303, 403, 403, 422),
    ("GET", "/ui/admin/backends/{backend_id}"): row(303, 403, 403, 200),
    ("POST", "/ui/admin/backends/{backend_id}"): row(303, 403, 403, 422),
    ("POST", "/ui/admin/backends/{backend_id}/check"): row(303, 403, 403, 303),
    ("POST", "/ui/admin/backends/{backend_id}/disable"): row(303, 403, 403, 303),
    ("POST", "/ui/admin/backends/{backend_id}/enable"): row(303, 403, 403, 303),
}


def ui_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route the UI app serves (static files aside)."""
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/ui")
    out = set()
    for context in iter_route_contexts(mount.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            out.update((method, "/ui" + str(context.path)) for method in context.methods or ())
        else:
            assert isinstance(route, Mount) and route.path == "/static", route
    assert out, "no UI routes found: has the route table changed shape?"
    return out


def test_every_ui_route_has_an_entry(app):
    routes = ui_routes(app)
    assert routes - MATRIX.keys() == set(), "UI routes without a MATRIX entry"
    assert MATRIX.keys() - routes == set(), "MATRIX entries without a route"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
async def test_route_by_role(method, path, role, browser, world):
    await world.zone("example.test")
    await world.zone("approve.test", approval="admin")
    user = world.account("alice", password=PASSWORD)
    world.account("bob", password=PASSWORD)
    world.account("root", admin=True, password=PASSWORD)
    token = world.token(world.realm(user, "example.test", "home"))
    from dnsgate.services import realms
    from dnsgate.services.context import RequestContext

    pending = realms.request_realm(world.env, RequestContext(), caller=world.caller(user),
                                   zone="approve.test", name="wait", kind="host")
    from dnsgate.services import grants
    from dnsgate.services.context import SYSTEM_CALLER

    grant = grants.create_grant(world.env, RequestContext(), caller=SYSTEM_CALLER,
                                zone="approve.test", account_id=user)  # grants are an admin's
    from dnsgate.services import accounts, sessions

    _, alice_elsewhere = sessions.start_session(
        world.env, RequestContext(), account_id=user,
        timeouts=sessions.Timeouts(idle=timedelta(hours=1), absolute=timedelta(hours=2)))
    key, _ = accounts.create_api_key(world.env, RequestContext(), caller=world.caller(user),
                                     account_id=user)
    from dnsgate.services import backends

    own = backends.add_own_backend(  # a closed loopback port: checks fail fast
        world.env, RequestContext(), caller=world.caller(user), name="alices-dns",
        provider="powerdns", config={"api_url": "http://127.0.0.1:9", "api_key": "k"},
        allowed=("powerdns",))
    url = path.format(backend_id=own.id, token_id=token.id, realm_id=pending.id, account_id=user,
                      zone="example.test", grant_id=grant.id, key_id=key.id,
                      session_ref=sessions.session_ref(world.env, alice_elsewhere.id),
                      invite_id=_invite(world), entry_id=1)
    async with browser() as b:
        if role == "anonymous":
            await b.get("/ui/login")
        else:
            await b.login({"user": "alice", "other": "bob", "admin": "root"}[role])
        if method == "GET":
            response = await b.get(url)
        else:
            response = await b.submit(url, {})
    expected = MATRIX[(method, path)][role]
    assert response.status_code == expected, (method, url, role, response.text[:500])
    if role == "anonymous" and expected == 303 and path != "/ui/logout":
        assert response.headers["location"].startswith("/ui/login")


def _invite(world) -> str:
    """An open invite (the revoke route's object)."""
    from dnsgate.services import invites
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT

    invite, _ = invites.create_invite(world.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                      email=None)
    return invite.id
