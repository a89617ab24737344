"""My backends (bring your own DNS): an account's own provider connections,
their zones, and using one of those zones for a realm of that account alone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import RowId
from dnsgate.backends import registry
from dnsgate.domain.errors import (
    BackendUnavailable,
    Conflict,
    Denied,
    DnsgateError,
    InvalidInput,
    NotFound,
)
from dnsgate.domain.policy import REALM_KINDS
from dnsgate.services import backends, own_dns
from dnsgate.services.backends import BackendView
from dnsgate.web import backend_pages, deps
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/backends")
BASE = "/ui/backends"


def _allowed(request: Request) -> tuple[str, ...]:
    return deps.ui(request).settings.byod_provider_names


def _mine(request: Request, who: deps.Who, backend_id: int) -> BackendView:
    return backends.find_backend(deps.ui(request).env, who.caller, backend_id, own=True)


@router.get("")
async def my_backends(request: Request, who: deps.Viewer) -> Response:
    env = deps.ui(request).env
    return render(request, "backends/mine.html",
                  backends=backends.list_backends(env, owner_account_id=who.caller.account_id),
                  providers=backend_pages.offered(_allowed(request)))


@router.get("/new")
async def new_backend(request: Request, who: deps.Viewer) -> Response:
    provider = backend_pages.picked(request, _allowed(request))
    if provider is None:
        return backend_pages.picker(request, base=BASE, allowed=_allowed(request))
    return backend_pages.form_page(request, base=BASE, provider=provider)


@router.post("/new")
async def add_backend(request: Request, who: deps.Viewer) -> Response:
    provider = backend_pages.picked(request, _allowed(request))
    if provider is None:
        return backend_pages.picker(request, base=BASE, allowed=_allowed(request), status=422)
    return await backend_pages.add(request, who, base=BASE, provider=provider,
                                   allowed=_allowed(request))


@router.get("/{backend_id}")
async def my_backend(request: Request, who: deps.Viewer, backend_id: RowId) -> Response:
    view = _mine(request, who, backend_id)
    return backend_pages.form_page(request, base=BASE, backend=view,
                                   provider=registry.provider(view.provider))


@router.post("/{backend_id}")
async def edit_backend(request: Request, who: deps.Viewer, backend_id: RowId) -> Response:
    return await backend_pages.edit(request, who, base=BASE,
                                    backend=_mine(request, who, backend_id))


@router.post("/{backend_id}/check")
async def check_backend(request: Request, who: deps.Viewer, backend_id: RowId) -> Response:
    return await backend_pages.check(request, who, base=BASE,
                                     backend=_mine(request, who, backend_id))


@router.post("/{backend_id}/disable")
async def disable_backend(request: Request, who: deps.Viewer, backend_id: RowId) -> Response:
    return await backend_pages.set_status(request, who, base=BASE, status="disabled",
                                          backend=_mine(request, who, backend_id))


async def _zones_page(request: Request, view: BackendView, *, status: int = 200,
                      form: dict[str, str] | None = None,
                      errors: dict[str, str] | None = None) -> Response:
    env = deps.ui(request).env
    found: list[str] = []
    problem = ""
    try:
        found = await backends.backend_zones(env, view.name)
    except BackendUnavailable:
        problem = ("The DNS provider did not answer or refused the credentials. "
                   "Test the connection on the backend's page.")
    except InvalidInput as exc:
        problem = exc.message
    return render(request, "backends/zones.html", status, backend=view, zones=found,
                  problem=problem, kinds=REALM_KINDS, form=form or {}, errors=errors or {})


@router.get("/{backend_id}/zones")
async def my_backend_zones(request: Request, who: deps.Viewer, backend_id: RowId) -> Response:
    return await _zones_page(request, _mine(request, who, backend_id))


@router.post("/{backend_id}/zones")
async def use_zone(request: Request, who: deps.Viewer, backend_id: RowId) -> Response:
    """Use a zone of my backend for a realm of mine (approved: my own DNS)."""
    view = _mine(request, who, backend_id)
    data = await deps.form(request)
    zone, name, kind = data.text("zone"), data.text("name"), data.text("kind")
    errors: dict[str, str] = {}
    if not zone:
        errors["zone"] = "Choose a zone."
    if kind not in REALM_KINDS:
        errors["kind"] = "Choose what the claim covers."
    if not errors:
        try:
            await own_dns.use_zone(deps.ui(request).env, deps.context(request),
                                   caller=who.caller, backend_id=view.id, zone=zone,
                                   name=name, kind=kind)
        except NotFound as exc:
            if exc.code == "zone_not_found" or "does not exist" in exc.message:
                errors["zone"] = "This zone is not on the backend."
            else:
                raise
        except (InvalidInput, Conflict, Denied) as exc:
            errors["name" if exc.code == "invalid_name" else "zone"] = exc.message
        except BackendUnavailable:
            errors["zone"] = "The DNS provider did not answer; try again later."
        except DnsgateError as exc:
            errors["zone"] = exc.message
    if errors:
        return await _zones_page(request, view, status=422, form={
            "zone": zone, "name": name, "kind": kind}, errors=errors)
    return redirect(request, "/ui/tokens", done="own_zone_used")
