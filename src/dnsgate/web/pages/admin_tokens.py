"""Admin console: every account's tokens -- search by id, owner or realm; revoke."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.services import tokens
from dnsgate.services.token_search import LIMIT, search_tokens
from dnsgate.web import deps
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/admin/tokens")
MAX_QUERY = 64


@router.get("")
async def tokens_page(request: Request, who: deps.AdminViewer) -> Response:
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    rows = search_tokens(deps.ui(request).env, query)
    return render(request, "admin/tokens.html", query=query, rows=rows, limit=LIMIT)


@router.post("/{token_id}/revoke")
async def revoke(request: Request, who: deps.AdminViewer, token_id: str) -> Response:
    """Revoke any account's token; the search the admin came from stays."""
    env = deps.ui(request).env
    tokens.revoke_token(env, deps.context(request), caller=who.caller, token_id=token_id)
    query = (await deps.form(request)).text("q")[:MAX_QUERY]
    if query:
        return redirect(request, f"/ui/admin/tokens?q={quote(query)}&done=token_revoked")
    return redirect(request, "/ui/admin/tokens", done="token_revoked")
