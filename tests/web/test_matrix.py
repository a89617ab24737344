"""Route x role matrix for everything under ``/ui``, generated from the app's route table.

Every UI route has an expected status for each role in ``MATRIX``; a route
the app serves without an entry here (or an entry without a route) fails
``test_every_ui_route_has_an_entry``. Each case runs on a fresh database, as
a browser would: signed in through the login form, posting with the page's
CSRF token (CSRF itself is tested in test_csrf.py), so what is checked is
who may do what.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from tests.web.conftest import PASSWORD

ROLES = ("anonymous", "user", "other", "admin")


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
    # --- registration, verification, invites, password reset
    # --- realm page, activity, audit, dashboards
    # --- admin: accounts, zones, grants, tokens
    # --- backends (mine and admin)
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
    url = path.format(token_id=token.id, realm_id=pending.id)
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
