"""The admin console: the approvals queue and the accounts list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import RowId
from dnsgate.domain.errors import Conflict, InvalidInput
from dnsgate.services import accounts, realms
from dnsgate.web import deps
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/admin")
MAX_REASON = 500


def _approvals(request: Request, *, status: int = 200, reasons: dict[int, str] | None = None,
               errors: dict[int, str] | None = None) -> Response:
    env = deps.ui(request).env
    owners = {a.id: a.name for a in accounts.list_accounts(env)}
    pending: list[dict[str, Any]] = [
        {"realm": realm, "zone": zone, "owner": owners.get(realm.account_id, "?")}
        for realm, zone in realms.list_realms(env, status="pending")]
    return render(request, "admin/approvals.html", status, pending=pending,
                  reasons=reasons or {}, errors=errors or {})


@router.get("/approvals")
async def approvals(request: Request, who: deps.AdminViewer) -> Response:
    return _approvals(request)


@router.post("/realms/{realm_id}/approve")
async def approve(request: Request, who: deps.AdminViewer, realm_id: RowId) -> Response:
    state = deps.ui(request)
    try:
        realms.decide_realm(state.env, deps.context(request), caller=who.caller,
                            realm_id=realm_id, status="approved")
    except Conflict:
        return redirect(request, "/ui/admin/approvals", done="already_decided")
    return redirect(request, "/ui/admin/approvals", done="realm_approved")


@router.post("/realms/{realm_id}/reject")
async def reject(request: Request, who: deps.AdminViewer, realm_id: RowId) -> Response:
    state = deps.ui(request)
    reason = (await deps.form(request)).text("reason")
    error = ""
    if len(reason) > MAX_REASON:
        error = f"Use at most {MAX_REASON} characters."
    else:
        try:
            realms.decide_realm(state.env, deps.context(request), caller=who.caller,
                                realm_id=realm_id, status="rejected", reason=reason)
        except InvalidInput as exc:
            error = "Give the owner a reason." if "reason" in exc.message else exc.message
        except Conflict:
            return redirect(request, "/ui/admin/approvals", done="already_decided")
    if error:
        return _approvals(request, status=422, reasons={realm_id: reason},
                          errors={realm_id: error})
    return redirect(request, "/ui/admin/approvals", done="realm_rejected")


@router.get("/accounts")
async def accounts_page(request: Request, who: deps.AdminViewer) -> Response:
    query = request.query_params.get("q", "").strip()[:64]
    env = deps.ui(request).env
    return render(request, "admin/accounts.html", query=query,
                  accounts=accounts.list_accounts(env, query=query or None))
