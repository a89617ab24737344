"""Admin console: zones -- the list, adding one from a backend's zone list, its policy.

A zone's page also lists its grants (``admin_grants.py`` creates and revokes
them) and its change history with undo; the forms re-render this page with
their errors.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import EventId
from dnsgate.domain.errors import BackendUnavailable, Conflict, Denied, InvalidInput, NotFound
from dnsgate.domain.lifetime import status_of
from dnsgate.domain.policy import OPERATIONS
from dnsgate.domain.records import WRITABLE_TYPES
from dnsgate.security.text import digits
from dnsgate.services import accounts, backends, grants, history, zones
from dnsgate.services.context import ZoneInfo
from dnsgate.web import deps, history_view
from dnsgate.web.forms import Form, FormInvalid
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/admin/zones")
MAX_DEPTH = 127  # a name has at most 127 labels
MAX_TTL = 2**31 - 1  # RFC 2181
MAX_QUOTA = 1_000_000
ALL_TYPES = sorted(WRITABLE_TYPES)
DOWN = ("The DNS provider behind {zone} did not answer, so the change was not undone. "
        "Try again in a few minutes.")


def _zones(request: Request, who: deps.Who) -> list[ZoneInfo]:
    env = deps.ui(request).env
    with env.db.read() as session:
        return zones.visible_zones(session, who.caller, env.clock())  # admins see all


def _zone(request: Request, name: str) -> ZoneInfo:
    env = deps.ui(request).env
    with env.db.read() as session:
        return zones.find_zone(session, zones.normalize_zone(name))


@router.get("")
async def zones_page(request: Request, who: deps.AdminViewer) -> Response:
    return _zones_page(request, who)


def _zones_page(request: Request, who: deps.Who, *, status: int = 200,
                errors: dict[str, str] | None = None) -> Response:
    return render(request, "admin/zones.html", status, zones=_zones(request, who),
                  backends=backends.list_backends(deps.ui(request).env),
                  errors=errors or {})


# --- adding a zone -------------------------------------------------------------

async def _new_page(request: Request, who: deps.Who, backend: str, *, status: int = 200,
                    form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
                    ) -> Response:
    """The zones ``backend`` reaches that are not offered yet, to pick one."""
    env = deps.ui(request).env
    chosen = backends.get_backend(env, backend)  # NotFound: 404
    offered = {z.name for z in _zones(request, who)}
    listed: list[str] = []
    problem = ""
    try:
        listed = [z for z in await backends.backend_zones(env, backend) if z not in offered]
    except InvalidInput as exc:
        problem = f"{exc.message}."
    except BackendUnavailable:
        problem = "The provider did not answer, so its zones cannot be listed; type the name."
    return render(request, "admin/zone_new.html", status, backend=chosen, listed=listed,
                  problem=problem, form=form or {}, errors=errors or {})


@router.get("/new")
async def new_zone_page(request: Request, who: deps.AdminViewer) -> Response:
    backend = request.query_params.get("backend", "").strip()[:64]
    if not backend:
        return redirect(request, "/ui/admin/zones")
    return await _new_page(request, who, backend)


@router.post("")
async def add_zone(request: Request, who: deps.AdminViewer) -> Response:
    data = await deps.form(request)
    backend = data.text("backend")
    zone = data.text("new_zone") or data.text("zone")  # a new built-in zone wins
    if not backend:
        return _zones_page(request, who, status=422, errors={"backend": "Choose a backend."})
    error = "" if zone else "Choose a zone or type its name."
    if not error:
        try:
            info = await zones.add_zone(deps.ui(request).env, deps.context(request),
                                        caller=who.caller, zone=zone, backend=backend)
        except (InvalidInput, Conflict, NotFound) as exc:  # an unknown backend: 404 below
            error = _sentence(exc.message)
        except BackendUnavailable:
            error = "The provider did not answer; try again later."
    if error:
        field = "zone" if data.text("zone") and not data.text("new_zone") else "new_zone"
        return await _new_page(request, who, backend, status=422, form=data.as_dict(),
                               errors={field: error})
    return redirect(request, f"/ui/admin/zones/{info.name}", done="zone_added")


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# --- one zone: policy and grants --------------------------------------------------

def policy_values(zone: ZoneInfo) -> dict[str, Any]:
    """The policy form's values for a zone as stored (text, as a browser sends them)."""
    policy = zone.policy
    return {
        "visibility": zone.visibility, "approval": zone.approval,
        "status": "active" if policy.active else "disabled",
        "min_depth": str(policy.min_depth),
        "max_depth": "" if policy.max_depth is None else str(policy.max_depth),
        "apex_allowed": "yes" if policy.apex_allowed else "",
        "types": sorted(policy.types), "operations": [o for o in OPERATIONS
                                                      if o in policy.operations],
        "realm_quota": "" if zone.realm_quota is None else str(zone.realm_quota),
        "ttl_min": str(zone.ttl_min), "ttl_max": str(zone.ttl_max),
        "default_ttl": str(zone.default_ttl),
        "attached_labels": " ".join(sorted(policy.attached_labels)),
    }


def grant_rows(request: Request, zone: str) -> list[dict[str, Any]]:
    env = deps.ui(request).env
    owners = {a.id: a.name for a in accounts.list_accounts(env)}
    now = env.clock()
    return [{"grant": grant, "account": owners.get(grant.account_id, "?"),
             "status": status_of(grant, now)}
            for grant, _ in grants.list_grants(env, zone=zone)]


def history_page(request: Request, zone: str) -> history_view.Page:
    """A page of the zone's history as the signed-in admin sees it (``?before=`` pages back)."""
    who = deps.current(request)
    assert who is not None  # the routes ask for an admin
    before = history_view.before_of(request.query_params.get("before", ""))
    found = history.changes(deps.ui(request).env, deps.context(request), caller=who.caller,
                            zone=zone, before=before, limit=history_view.read_limit())
    return history_view.page(found, before=before)


def zone_page(request: Request, name: str, *, status: int = 200,
              policy: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
              grant_form: dict[str, Any] | None = None,
              grant_errors: dict[str, str] | None = None,
              history_error: str = "") -> Response:
    """The zone's page; each form keeps what was typed into it when it comes back."""
    zone = _zone(request, name)
    return render(request, "admin/zone.html", status, zone=zone,
                  form=policy or policy_values(zone), errors=errors or {},
                  grants=grant_rows(request, zone.name),
                  grant_form=grant_form or {}, grant_errors=grant_errors or {},
                  all_types=ALL_TYPES, operations=OPERATIONS,
                  visibilities=zones.VISIBILITIES, approvals=zones.APPROVALS,
                  history=history_page(request, zone.name), history_error=history_error)


@router.get("/{zone}")
async def zone_detail(request: Request, who: deps.AdminViewer, zone: str) -> Response:
    return zone_page(request, zone)


def number(data: Form, name: str, errors: dict[str, str], *, low: int, high: int,
           required: bool) -> int | None:
    """A whole number from ``low`` to ``high`` (empty: None, or an error if required)."""
    text = data.text(name)
    if not text:
        if required:
            errors[name] = "Enter a number."
        return None
    value = digits(text, maximum=high)
    if value is None or value < low:
        errors[name] = f"Enter a whole number from {low} to {high}."
        return None
    return value


def _policy_update(data: Form) -> zones.PolicyUpdate:
    """The form as a full policy (every field replaces the stored one)."""
    errors: dict[str, str] = {}
    min_depth = number(data, "min_depth", errors, low=1, high=MAX_DEPTH, required=True)
    max_depth = number(data, "max_depth", errors, low=1, high=MAX_DEPTH, required=False)
    quota = number(data, "realm_quota", errors, low=0, high=MAX_QUOTA, required=False)
    ttls = {f: number(data, f, errors, low=0, high=MAX_TTL, required=True)
            for f in ("ttl_min", "default_ttl", "ttl_max")}
    choices = {"visibility": zones.VISIBILITIES, "approval": zones.APPROVALS,
               "status": ("active", "disabled")}
    for field, allowed in choices.items():
        if data.text(field) not in allowed:
            errors[field] = "Choose one of the options."
    types, ops = data.getlist("types"), data.getlist("operations")
    if not types:
        errors["types"] = "Choose at least one record type."
    if not ops:
        errors["operations"] = "Choose at least one operation."
    if errors:
        raise FormInvalid(errors)
    return zones.PolicyUpdate(
        visibility=data.text("visibility"), approval=data.text("approval"),
        status=data.text("status"), min_depth=min_depth, max_depth=max_depth,
        clear_max_depth=max_depth is None, apex_allowed=data.text("apex_allowed") == "yes",
        types=types, operations=ops, realm_quota=quota, clear_realm_quota=quota is None,
        ttl_min=ttls["ttl_min"], ttl_max=ttls["ttl_max"], default_ttl=ttls["default_ttl"],
        attached_labels=data.text("attached_labels").replace(",", " ").split())


#: The services' refusals of a policy, as (start of message, field, sentence for people).
_POLICY_ERRORS = (
    ("min_depth", "min_depth", "The minimum depth is at least 1; allow the apex below."),
    ("max_depth", "max_depth", "The maximum depth must be at least the minimum depth."),
    ("TTLs", "default_ttl", "Keep minimum TTL ≤ default TTL ≤ maximum TTL."),
    ("unsupported record types", "types", ""),
    ("unknown operations", "operations", ""),
    ("attached labels", "attached_labels", "Labels start with '_', one label each "
                                           "(such as _custom), separated by spaces."),
)


def _policy_error(exc: InvalidInput) -> dict[str, str]:
    for start, field, sentence in _POLICY_ERRORS:
        if exc.message.startswith(start):
            return {field: sentence or _sentence(exc.message)}
    return {"": _sentence(exc.message)}


@router.post("/{zone}")
async def update_policy(request: Request, who: deps.AdminViewer, zone: str) -> Response:
    data = await deps.form(request)
    name = _zone(request, zone).name  # 404 before anything else
    try:
        zones.update_zone(deps.ui(request).env, deps.context(request), caller=who.caller,
                          zone=name, update=_policy_update(data))
    except FormInvalid as invalid:
        return zone_page(request, name, status=422, policy=data.as_dict(),
                         errors=invalid.errors)
    except InvalidInput as exc:
        return zone_page(request, name, status=422, policy=data.as_dict(),
                         errors=_policy_error(exc))
    return redirect(request, f"/ui/admin/zones/{name}", done="zone_updated")


# --- one zone: undoing a change -----------------------------------------------------

@router.post("/{zone}/history/{entry_id}/undo")
async def undo_change(request: Request, who: deps.AdminViewer, zone: str,
                      entry_id: EventId) -> Response:
    name = _zone(request, zone).name  # 404 before anything else
    try:
        await history.undo(deps.ui(request).env, deps.context(request), caller=who.caller,
                           zone=name, entry_id=entry_id)
    except BackendUnavailable:
        return zone_page(request, name, status=502, history_error=DOWN.format(zone=name))
    except (Conflict, Denied, InvalidInput, NotFound) as exc:
        status, message = history_view.refusal(exc)
        return zone_page(request, name, status=status, history_error=message)
    return redirect(request, f"/ui/admin/zones/{name}", done="change_undone")
