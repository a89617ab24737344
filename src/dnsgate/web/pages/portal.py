"""The account portal: dashboard, tokens, realm requests -- views over the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import INT32_MAX
from dnsgate.domain import names
from dnsgate.domain.errors import Conflict, Denied, DnsgateError, InvalidInput, NotFound
from dnsgate.domain.lifetime import status_of
from dnsgate.domain.policy import OPERATIONS, REALM_KINDS
from dnsgate.security.text import digits
from dnsgate.services import audit_log, realms, tokens
from dnsgate.services.audit_log import AuditQuery
from dnsgate.services.zones import visible_zones
from dnsgate.web import charts, deps
from dnsgate.web.forms import Form, FormInvalid
from dnsgate.web.render import redirect, render
from dnsgate.web.snippets import snippets

router = APIRouter()
MAX_EXPIRY_DAYS = 3650
RECENT = 10


@router.get("/")
async def dashboard(request: Request, who: deps.Viewer) -> Response:
    env = deps.ui(request).env
    me = who.caller.account_id
    return render(request, "dashboard.html",
                  realms=realms.list_realms(env, account_id=me),
                  tokens=_token_rows(request, who),
                  activity_chart=charts.account_activity(env, me),
                  recent=audit_log.query(env, AuditQuery(account_id=me, limit=RECENT)))


def _token_rows(request: Request, who: deps.Who) -> list[dict[str, Any]]:
    env = deps.ui(request).env
    realm_names = {r.id: r.name for r, _ in realms.list_realms(env,
                                                              account_id=who.caller.account_id)}
    now = env.clock()
    rows = []
    for token in tokens.list_tokens(env, account_id=who.caller.account_id):
        rows.append({"token": token, "realm": realm_names.get(token.realm_id, "?"),
                     "status": status_of(token, now)})
    return rows


# --- tokens ------------------------------------------------------------------

def _my_approved_realms(request: Request, who: deps.Who) -> list[tuple[Any, str]]:
    env = deps.ui(request).env
    return realms.list_realms(env, account_id=who.caller.account_id, status="approved")


def _tokens_page(request: Request, who: deps.Who, *, status: int = 200,
                 form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
                 ) -> Response:
    mine = _my_approved_realms(request, who)
    types = sorted({t for realm, _ in mine for t in realm.types})
    return render(request, "tokens.html", status, realms=mine, types=types,
                  operations=OPERATIONS, tokens=_token_rows(request, who),
                  form=form or {}, errors=errors or {})


@router.get("/tokens")
async def tokens_page(request: Request, who: deps.Viewer) -> Response:
    return _tokens_page(request, who)


def _token_fields(data: Form) -> dict[str, Any]:
    """The create form's values, checked for shape (the service checks the rest)."""
    errors: dict[str, str] = {}
    realm_text = data.text("realm_id")
    realm_id = digits(realm_text, maximum=INT32_MAX)
    if realm_id is None:
        errors["realm_id"] = "Choose one of your realms."
    days_text = data.text("expires_days")
    days: int | None = None
    if days_text:
        if not digits(days_text, maximum=MAX_EXPIRY_DAYS):  # None, or 0
            errors["expires_days"] = (f"Enter whole days from 1 to {MAX_EXPIRY_DAYS}, "
                                      "or leave empty.")
        else:
            days = int(days_text)
    if len(data.text("name")) > 100:
        errors["name"] = "Use at most 100 characters."
    if errors:
        raise FormInvalid(errors)
    return {"realm_id": realm_id, "name": data.text("name"),
            "types": data.getlist("types") or None,
            "operations": data.getlist("operations") or None,
            "names": data.lines("names") or None, "cidrs": data.lines("cidrs") or None,
            "days": days}


#: Which field a refusal of ``tokens.create_token`` is about, by the start of
#: its message (the services' messages are stable text for people).
_TOKEN_FIELDS = (
    ("types ", "types"), ("unsupported record types", "types"),
    ("operations ", "operations"), ("unknown operations", "operations"),
    ("invalid CIDR", "cidrs"), ("at most", "names"),
    ("expires_at", "expires_days"), ("not_before", "expires_days"),
)


def _token_error(exc: DnsgateError) -> dict[str, str]:
    """A service refusal as the field it is about."""
    if isinstance(exc, Conflict):
        return {"realm_id": exc.message}
    for start, field in _TOKEN_FIELDS:
        if exc.message.startswith(start):
            return {field: exc.message}
    if exc.code == "invalid_name":
        return {"names": exc.message}
    return {"": exc.message}


@router.post("/tokens")
async def create_token(request: Request, who: deps.Viewer) -> Response:
    state = deps.ui(request)
    data = await deps.form(request)
    try:
        fields = _token_fields(data)
        expires = (state.env.clock() + timedelta(days=fields["days"])
                   if fields["days"] else None)
        row, text = tokens.create_token(
            state.env, deps.context(request), caller=who.caller, realm_id=fields["realm_id"],
            name=fields["name"], names_=fields["names"], types=fields["types"],
            operations=fields["operations"], cidrs=fields["cidrs"], expires_at=expires)
    except FormInvalid as invalid:
        return _tokens_page(request, who, status=422, form=data.as_dict(), errors=invalid.errors)
    except NotFound:
        raise  # another account's realm: 404 page and an audit event
    except (InvalidInput, Conflict, Denied) as exc:
        return _tokens_page(request, who, status=422, form=data.as_dict(),
                            errors=_token_error(exc))
    realm, zone = realms.find_realm(state.env, who.caller, row.realm_id)
    return render(request, "token_created.html", token=row, secret=text, realm=realm,
                  snippets=snippets(_origin(request), text, realm.name, zone,
                                    row.types or realm.types, realm.kind, row.names))


def _origin(request: Request) -> str:
    scheme = "https" if deps.https(request) else "http"
    return f"{scheme}://{request.headers.get('host', 'localhost')}"


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, who: deps.Viewer, token_id: str) -> Response:
    state = deps.ui(request)
    token = tokens.revoke_token(state.env, deps.context(request), caller=who.caller,
                                token_id=token_id)
    if request.headers.get("hx-request") == "true":
        row = next((r for r in _token_rows(request, who) if r["token"].id == token.id),
                   {"token": token, "realm": "", "status": "revoked"})
        return render(request, "partials/token_row.html", row=row, actions=True)
    return redirect(request, "/ui/tokens", done="token_revoked")


# --- realm requests ----------------------------------------------------------

def _zones(request: Request, who: deps.Who) -> list[Any]:
    env = deps.ui(request).env
    with env.db.read() as session:
        return visible_zones(session, who.caller, env.clock())


def preview_name(zone: str, name: str, kind: str) -> str:
    """What a claim would cover, in words; '' while the input is unusable."""
    if not zone or not name:
        return ""
    try:
        fqdn = names.resolve(name, zone, allow_wildcard=False)
    except DnsgateError:
        return ""
    if not names.is_at_or_below(fqdn, zone):
        return ""
    return {"host": fqdn, "subtree": f"{fqdn} and every name below it",
            "below": f"every name below {fqdn} (not {fqdn} itself)"}.get(kind, fqdn)


def _realm_page(request: Request, who: deps.Who, *, status: int = 200,
                form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
                ) -> Response:
    values = form or {"kind": "host"}
    zones = _zones(request, who)
    return render(request, "realm_request.html", status, zones=zones, kinds=REALM_KINDS,
                  form=values, errors=errors or {},
                  preview=preview_name(str(values.get("zone", "")), str(values.get("name", "")),
                                       str(values.get("kind", ""))))


@router.get("/realms/request")
async def realm_request_page(request: Request, who: deps.Viewer) -> Response:
    return _realm_page(request, who)


@router.get("/realms/preview")
async def realm_preview(request: Request, who: deps.Viewer) -> Response:
    """The live preview of the full name (an htmx fragment)."""
    q = request.query_params
    return render(request, "partials/preview.html",
                  preview=preview_name(q.get("zone", ""), q.get("name", "").strip(),
                                       q.get("kind", "host")))


def _realm_error(exc: DnsgateError) -> dict[str, str]:
    message = exc.message
    if isinstance(exc, NotFound) or "grant" in message:
        return {"zone": message if "grant" in message else "Choose one of the zones listed."}
    if "quota" in message:
        return {"zone": message}
    if exc.code in ("type_not_allowed", "operation_not_allowed"):
        return {"": message}
    if message.startswith("kind"):
        return {"kind": message}
    return {"name": message}  # taken, too deep, apex, not a valid name


@router.post("/realms/request")
async def request_realm(request: Request, who: deps.Viewer) -> Response:
    state = deps.ui(request)
    data = await deps.form(request)
    zone, name, kind = data.text("zone"), data.text("name"), data.text("kind")
    errors: dict[str, str] = {}
    if not zone:
        errors["zone"] = "Choose a zone."
    if not name:
        errors["name"] = "Enter a name."
    if kind not in REALM_KINDS:
        errors["kind"] = "Choose what the claim covers."
    if not errors:
        try:
            upstream = await realms.read_upstream(state.env, who.caller, zone)
            realms.request_realm(state.env, deps.context(request), caller=who.caller,
                                 zone=zone, name=name, kind=kind, upstream=upstream)
        except (InvalidInput, Conflict, Denied, NotFound) as exc:
            errors = _realm_error(exc)
    if errors:
        return _realm_page(request, who, status=422, form=data.as_dict(), errors=errors)
    return redirect(request, "/ui/", done="realm_requested")
