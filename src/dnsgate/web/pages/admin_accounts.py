"""Admin console: one account -- what it holds, disable / enable, delete after a preview.

The accounts list itself is in ``admin.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import RowId
from dnsgate.domain.errors import Conflict
from dnsgate.services import accounts
from dnsgate.services.account_deletion import delete_account, deletion_plan
from dnsgate.services.account_holdings import holdings
from dnsgate.web import deps
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/admin/accounts")


def _account_page(request: Request, account_id: int, *, status: int = 200,
                  error: str = "") -> Response:
    held = holdings(deps.ui(request).env, account_id)
    return render(request, "admin/account.html", status, held=held,
                  errors={"": error} if error else {})


@router.get("/{account_id}")
async def account_page(request: Request, who: deps.AdminViewer, account_id: RowId) -> Response:
    return _account_page(request, account_id)


async def _set_status(request: Request, who: deps.Who, account_id: int, status: str,
                      done: str) -> Response:
    try:
        accounts.set_status(deps.ui(request).env, deps.context(request), caller=who.caller,
                            account_id=account_id, status=status)
    except Conflict as refused:
        return _account_page(request, account_id, status=409, error=_sentence(refused))
    return redirect(request, f"/ui/admin/accounts/{account_id}", done=done)


@router.post("/{account_id}/disable")
async def disable(request: Request, who: deps.AdminViewer, account_id: RowId) -> Response:
    return await _set_status(request, who, account_id, "disabled", "account_disabled")


@router.post("/{account_id}/enable")
async def enable(request: Request, who: deps.AdminViewer, account_id: RowId) -> Response:
    return await _set_status(request, who, account_id, "active", "account_enabled")


def _sentence(refused: Conflict) -> str:
    return refused.message[:1].upper() + refused.message[1:] + "."


@router.get("/{account_id}/delete")
async def delete_preview(request: Request, who: deps.AdminViewer, account_id: RowId) -> Response:
    held, refusal = deletion_plan(deps.ui(request).env, caller=who.caller,
                                  account_id=account_id)
    return render(request, "admin/account_delete.html", held=held,
                  refusal=_sentence(Conflict(refusal)) if refusal else "")


@router.post("/{account_id}/delete")
async def delete(request: Request, who: deps.AdminViewer, account_id: RowId) -> Response:
    env = deps.ui(request).env
    try:
        await delete_account(env, deps.context(request), caller=who.caller,
                             account_id=account_id)
    except Conflict as refused:
        held, _ = deletion_plan(env, caller=who.caller, account_id=account_id)
        return render(request, "admin/account_delete.html", 409, held=held,
                      refusal=_sentence(refused))
    return redirect(request, "/ui/admin/accounts", done="account_deleted")
