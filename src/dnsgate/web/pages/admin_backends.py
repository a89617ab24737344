"""The admin's backends: every provider connection, its owner, status and health;
add, edit, check, disable, enable (with the same generated forms as "My backends")."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import RowId
from dnsgate.backends import registry
from dnsgate.services import accounts, backends
from dnsgate.services.backends import BackendView
from dnsgate.web import backend_pages, deps
from dnsgate.web.render import render

router = APIRouter(prefix="/admin/backends")
BASE = "/ui/admin/backends"


def _owners(request: Request) -> dict[int, str]:
    return {a.id: a.name for a in accounts.list_accounts(deps.ui(request).env)}


def _backend(request: Request, who: deps.Who, backend_id: int) -> BackendView:
    return backends.find_backend(deps.ui(request).env, who.caller, backend_id, own=False)


def _owner(request: Request, view: BackendView) -> str:
    if view.owner_account_id is None:
        return ""
    return _owners(request).get(view.owner_account_id, "?")


def _editable(who: deps.Who, view: BackendView) -> bool:
    """An account's own backend is configured by its owner only (see update_backend)."""
    return view.owner_account_id in (None, who.caller.account_id)


@router.get("")
async def all_backends(request: Request, who: deps.AdminViewer) -> Response:
    return render(request, "admin/backends.html",
                  backends=backends.list_backends(deps.ui(request).env),
                  owners=_owners(request))


@router.get("/new")
async def new_backend(request: Request, who: deps.AdminViewer) -> Response:
    provider = backend_pages.picked(request, None)
    if provider is None:
        return backend_pages.picker(request, base=BASE, allowed=None)
    return backend_pages.form_page(request, base=BASE, provider=provider)


@router.post("/new")
async def add_backend(request: Request, who: deps.AdminViewer) -> Response:
    provider = backend_pages.picked(request, None)
    if provider is None:
        return backend_pages.picker(request, base=BASE, allowed=None, status=422)
    return await backend_pages.add(request, who, base=BASE, provider=provider, allowed=None)


@router.get("/{backend_id}")
async def backend_page(request: Request, who: deps.AdminViewer, backend_id: RowId) -> Response:
    view = _backend(request, who, backend_id)
    return backend_pages.form_page(request, base=BASE, backend=view,
                                   provider=registry.provider(view.provider),
                                   editable=_editable(who, view), owner=_owner(request, view))


@router.post("/{backend_id}")
async def edit_backend(request: Request, who: deps.AdminViewer, backend_id: RowId) -> Response:
    view = _backend(request, who, backend_id)
    return await backend_pages.edit(request, who, base=BASE, backend=view,
                                    owner=_owner(request, view))


@router.post("/{backend_id}/check")
async def check_backend(request: Request, who: deps.AdminViewer, backend_id: RowId) -> Response:
    return await backend_pages.check(request, who, base=BASE,
                                     backend=_backend(request, who, backend_id))


@router.post("/{backend_id}/disable")
async def disable_backend(request: Request, who: deps.AdminViewer, backend_id: RowId) -> Response:
    return await backend_pages.set_status(request, who, base=BASE, status="disabled",
                                          backend=_backend(request, who, backend_id))


@router.post("/{backend_id}/enable")
async def enable_backend(request: Request, who: deps.AdminViewer, backend_id: RowId) -> Response:
    return await backend_pages.set_status(request, who, base=BASE, status="active",
                                          backend=_backend(request, who, backend_id))
