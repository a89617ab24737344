"""The admin console's overview: requests by surface and outcome, recent
denials, backend health and what waits for approval."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.services import accounts, audit_log, backends, realms
from dnsgate.services.audit_log import AuditQuery
from dnsgate.web import charts, deps
from dnsgate.web.render import render

router = APIRouter(prefix="/admin")
RECENT = 10


@router.get("/")
async def overview(request: Request, who: deps.AdminViewer) -> Response:
    env = deps.ui(request).env
    by_surface, by_outcome, table = charts.requests_by_surface(env)
    return render(request, "admin/overview.html", by_surface=by_surface, by_outcome=by_outcome,
                  surface_table=table,
                  denials=audit_log.query(env, AuditQuery(outcome="denied", limit=RECENT)),
                  names={a.id: a.name for a in accounts.list_accounts(env)},
                  backends=backends.list_backends(env),
                  pending=len(realms.list_realms(env, status="pending")))
