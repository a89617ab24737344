"""The check on the realm page and the token page: what ``decide()`` answers for
one name, type and operation, and which row of its table decided -- the same
answer as ``GET /api/v1/whoami/explain`` (``services/explain.py``).

A form sent with htmx gets the answer as a fragment in place; without
JavaScript the answer is a small page of its own.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import RowId
from dnsgate.domain import names
from dnsgate.domain.errors import InvalidInput
from dnsgate.services import explain, realm_records
from dnsgate.services.context import Caller, RequestContext
from dnsgate.web import deps
from dnsgate.web.render import render

router = APIRouter()
MAX_FIELD = 255


def _answer(request: Request, *, caller: Caller, ctx: RequestContext, zone: str,
            name: str, back: str, what: str, error: str = "") -> Response:
    """Ask the service; show its answer (or why the question is not one)."""
    q = request.query_params
    values = {key: q.get(key, "")[:MAX_FIELD] for key in ("name", "type", "operation", "ip")}
    result: explain.Explanation | None = None
    if not error:
        try:
            result = explain.explain(deps.ui(request).env, ctx, caller=caller, zone=zone,
                                     name=name, rtype=values["type"],
                                     operation=values["operation"])
        except InvalidInput as exc:
            error = exc.message[:1].upper() + exc.message[1:] + "."
    fragment = request.headers.get("hx-request") == "true"
    return render(request, "partials/explain.html" if fragment else "explain.html",
                  200 if result is not None else 422, explained=result, explain_error=error,
                  form=values, back=back, what=what)


@router.get("/realms/{realm_id}/explain")
async def explain_realm(request: Request, who: deps.Viewer, realm_id: RowId) -> Response:
    """As the realm (the records editor's scope): a name relative to the realm."""
    view = realm_records.find(deps.ui(request).env, who.caller, realm_id)
    text = request.query_params.get("name", "")[:MAX_FIELD]
    try:
        name = realm_records.owner_name(text, view)
    except InvalidInput:
        name = text.strip() or "@"  # the service says what is wrong with it
    return _answer(request, caller=realm_records.within(who.caller, view),
                   ctx=deps.context(request), zone=view.zone, name=name,
                   back=f"/ui/realms/{realm_id}", what=f"realm {view.realm.name}")


@router.get("/tokens/explain")
async def explain_token(request: Request, who: deps.Viewer) -> Response:
    """As one of my tokens, sent from an address typed in (else this browser's):
    a name relative to the token's zone."""
    q = request.query_params
    token = explain.token_as_caller(deps.ui(request).env, caller=who.caller,
                                    token_id=q.get("token", "")[:64])
    zone = token.token_zone.name if token.token_zone else ""
    ctx, error = deps.context(request), ""
    address = q.get("ip", "").strip()[:64]
    if address:
        try:
            ipaddress.ip_address(address)
            ctx = dataclasses.replace(ctx, source_ip=address)
        except ValueError:
            error = "Enter an IP address such as 192.0.2.10, or leave the address empty."
    text = q.get("name", "").strip()[:MAX_FIELD]
    try:
        name = names.resolve(text, zone)
    except InvalidInput:
        name = text or "@"
    return _answer(request, caller=token, ctx=ctx, zone=zone, name=name, back="/ui/tokens",
                   what=f"token {token.actor_id}", error=error)
