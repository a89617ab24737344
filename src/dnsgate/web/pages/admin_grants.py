"""Admin console: grants -- an account's access to a private or invite zone.

Both forms live on the zone's page (``admin_zones.zone_page``), which comes
back with the grant form's errors and what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import RowId
from dnsgate.domain.errors import Conflict, InvalidInput, NotFound
from dnsgate.services import accounts, grants
from dnsgate.web import deps
from dnsgate.web.forms import Form, FormInvalid
from dnsgate.web.pages.admin_zones import MAX_QUOTA, number, zone_page
from dnsgate.web.render import redirect

router = APIRouter(prefix="/admin")
MAX_GRANT_DAYS = 3650


def _account_id(request: Request, name: str) -> int | None:
    env = deps.ui(request).env
    try:
        with env.db.read() as session:
            return accounts.find_account(session, name).id
    except NotFound:
        return None


@dataclass(frozen=True, slots=True)
class GrantFields:
    account_id: int
    types: list[str] | None
    operations: list[str] | None
    max_realms: int | None
    expires_at: datetime | None


def _grant_fields(request: Request, data: Form) -> GrantFields:
    """The form checked for shape; the service checks types and operations."""
    errors: dict[str, str] = {}
    name = data.text("account")
    account_id = _account_id(request, name) if name else None
    if account_id is None:
        errors["account"] = ("Enter the name of an existing account." if name
                             else "Enter an account name.")
    max_realms = number(data, "max_realms", errors, low=0, high=MAX_QUOTA, required=False)
    days = number(data, "expires_days", errors, low=1, high=MAX_GRANT_DAYS, required=False)
    if errors or account_id is None:
        raise FormInvalid(errors)
    now = deps.ui(request).env.clock()
    return GrantFields(account_id, data.getlist("types") or None,
                       data.getlist("operations") or None, max_realms,
                       now + timedelta(days=days) if days else None)


def _grant_error(exc: InvalidInput | Conflict, account: str) -> dict[str, str]:
    if isinstance(exc, Conflict):
        return {"account": f"{account} already has a grant on this zone; revoke it first."}
    field = "types" if exc.message.startswith("unsupported") else (
        "operations" if exc.message.startswith("unknown") else "")
    return {field: exc.message[:1].upper() + exc.message[1:] + "."}


@router.post("/zones/{zone}/grants")
async def create_grant(request: Request, who: deps.AdminViewer, zone: str) -> Response:
    data = await deps.form(request)
    try:
        fields = _grant_fields(request, data)
        grants.create_grant(deps.ui(request).env, deps.context(request), caller=who.caller,
                            zone=zone, account_id=fields.account_id, types=fields.types,
                            operations=fields.operations, max_realms=fields.max_realms,
                            expires_at=fields.expires_at)
    except FormInvalid as invalid:
        return zone_page(request, zone, status=422, grant_form=data.as_dict(),
                         grant_errors=invalid.errors)
    except (InvalidInput, Conflict) as exc:
        return zone_page(request, zone, status=422, grant_form=data.as_dict(),
                         grant_errors=_grant_error(exc, data.text("account")))
    return redirect(request, f"/ui/admin/zones/{zone}", done="grant_created")


@router.post("/grants/{grant_id}/revoke")
async def revoke_grant(request: Request, who: deps.AdminViewer, grant_id: RowId) -> Response:
    env = deps.ui(request).env
    grant = grants.revoke_grant(env, deps.context(request), caller=who.caller,
                                grant_id=grant_id)
    zone = next(z for g, z in grants.list_grants(env, account_id=grant.account_id)
                if g.id == grant.id)
    return redirect(request, f"/ui/admin/zones/{zone}", done="grant_revoked")
