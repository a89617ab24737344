"""The audit log, two views: my activity, and the admin audit log (both with CSV)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.domain.errors import NotFound
from dnsgate.services import accounts, tokens
from dnsgate.web import auditlog, deps
from dnsgate.web.render import render

router = APIRouter()


def _names(request: Request) -> dict[int, str]:
    return {a.id: a.name for a in accounts.list_accounts(deps.ui(request).env)}


def _filters(request: Request, who: deps.Who, *, admin: bool) -> auditlog.Filters:
    """Admins filter by any account; everyone else sees only their own."""
    if not admin:
        return auditlog.parse_filters(request.query_params, account_id=who.caller.account_id)
    env = deps.ui(request).env

    def find(name: str) -> int | None:
        with env.db.read() as session:
            try:
                return accounts.find_account(session, name).id
            except NotFound:
                return None

    return auditlog.parse_filters(request.query_params, account_id=None, find_account=find)


def _view(request: Request, who: deps.Who, *, admin: bool) -> Response:
    env = deps.ui(request).env
    filters = _filters(request, who, admin=admin)
    shown = auditlog.page(env, filters)
    mine = [] if admin else tokens.list_tokens(env, account_id=who.caller.account_id)
    return render(request, "audit.html", 422 if filters.errors else 200, admin=admin,
                  filters=filters, form=filters.values, errors=filters.errors, shown=shown,
                  names=_names(request) if admin else {who.caller.account_id: who.name},
                  my_tokens=mine, outcomes=auditlog.OUTCOMES,
                  base="/ui/admin/audit" if admin else "/ui/activity")


def _export(request: Request, who: deps.Who, *, admin: bool) -> Response:
    env = deps.ui(request).env
    filters = _filters(request, who, admin=admin)
    if filters.errors:
        return _view(request, who, admin=admin)
    names = _names(request) if admin else {who.caller.account_id: who.name}
    return auditlog.csv_response(env, filters, names,
                                 "dnsgate-audit.csv" if admin else "dnsgate-activity.csv")


@router.get("/activity")
async def activity(request: Request, who: deps.Viewer) -> Response:
    return _view(request, who, admin=False)


@router.get("/activity.csv")
async def activity_csv(request: Request, who: deps.Viewer) -> Response:
    return _export(request, who, admin=False)


@router.get("/admin/audit")
async def admin_audit(request: Request, who: deps.AdminViewer) -> Response:
    return _view(request, who, admin=True)


@router.get("/admin/audit.csv")
async def admin_audit_csv(request: Request, who: deps.AdminViewer) -> Response:
    return _export(request, who, admin=True)
