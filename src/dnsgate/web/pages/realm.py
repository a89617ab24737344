"""The realm page: the realm, its tokens, its records with an editor, and their
history with undo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import INT32_MAX, EventId, RowId
from dnsgate.domain.errors import (
    BackendUnavailable,
    Conflict,
    Denied,
    InvalidInput,
    InvalidName,
    NotFound,
)
from dnsgate.domain.records import RRset
from dnsgate.security.text import digits
from dnsgate.services import realm_records, tokens
from dnsgate.services.realm_records import RealmView
from dnsgate.web import deps, history_view
from dnsgate.web.forms import Form
from dnsgate.web.render import redirect, render

router = APIRouter()
MAX_RECORDS_TEXT = 64_000

#: A refusal of ``decide()`` in words, and the field it is about.
_DENIALS = {
    "name_outside_realm": ("name", "This name is outside the realm {realm}."),
    "zone_policy": ("name", "The zone's policy does not allow records at this name."),
    "type_not_allowed": ("type", "This realm does not allow {rtype} records."),
    "operation_not_allowed": ("", "This realm does not allow this change "
                                  "(it allows: {ops})."),
    "realm_inactive": ("", "The realm is not approved, so its records cannot change."),
    "zone_disabled": ("", "The zone or its DNS provider is disabled by an admin."),
}
DOWN = ("The DNS provider behind {zone} did not answer, so the records cannot be shown "
        "or changed right now. Nothing was changed. Try again in a few minutes.")


def _field_error(exc: InvalidInput | Denied, view: RealmView, rtype: str) -> dict[str, str]:
    """A refusal of ``records`` as the field it is about, in words."""
    if isinstance(exc, Denied):
        field, text = _DENIALS.get(exc.code, ("", f"Refused ({exc.code})."))
        return {field: text.format(realm=view.realm.name, rtype=rtype.upper() or "these",
                                   ops=", ".join(view.realm.ops))}
    if isinstance(exc, InvalidName):
        return {"name": exc.message}
    message = exc.message
    if message.startswith("ttl") or "TTL" in message:
        return {"ttl": message}
    if "record type" in message or "does not support" in message:
        return {"type": message}
    if message.startswith(("the change set", "at most")) and "records" not in message:
        return {"": message}
    return {"records": message}


async def _page(request: Request, who: deps.Who, view: RealmView, *, status: int = 200,
                form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                down: bool = False, history_error: str = "") -> Response:
    env = deps.ui(request).env
    before = history_view.before_of(request.query_params.get("before", ""))
    changes = realm_records.realm_history(env, deps.context(request), caller=who.caller,
                                          view=view, before=before,
                                          limit=history_view.read_limit())
    rrsets: list[RRset] = []
    if not down:
        try:
            rrsets = await realm_records.list_realm_rrsets(
                env, deps.context(request), caller=who.caller, view=view)
        except BackendUnavailable:
            down, status = True, 502
    values = form if form is not None else _prefill(request, rrsets)
    return render(request, "realm.html", status, realm=view.realm, zone=view.zone,
                  rrsets=rrsets, tokens=tokens.list_tokens(env, realm_id=view.realm.id),
                  form=values, errors=errors or {},
                  down=DOWN.format(zone=view.zone) if down else "",
                  can_read="read" in view.realm.ops,
                  history=history_view.page(changes, before=before),
                  history_error=history_error)


def _prefill(request: Request, rrsets: list[RRset]) -> dict[str, Any]:
    """The editor's values: an RRset picked with its Edit link, or empty."""
    name, rtype = request.query_params.get("name", ""), request.query_params.get("type", "")
    for rr in rrsets:
        if rr.name == name and rr.type == rtype:
            return {"name": rr.name, "type": rr.type, "ttl": str(rr.ttl),
                    "records": "\n".join(rr.records), "editing": "1"}
    return {}


@router.get("/realms/{realm_id}")
async def realm_page(request: Request, who: deps.Viewer, realm_id: RowId) -> Response:
    view = realm_records.find(deps.ui(request).env, who.caller, realm_id)
    return await _page(request, who, view)


def _ttl(data: Form) -> tuple[int | None, dict[str, str]]:
    text = data.text("ttl")
    if not text:
        return None, {}
    ttl = digits(text, maximum=INT32_MAX)
    if ttl is None:
        return None, {"ttl": "Enter the TTL in whole seconds, or leave it empty."}
    return ttl, {}


@router.post("/realms/{realm_id}/rrsets")
async def save_rrset(request: Request, who: deps.Viewer, realm_id: RowId) -> Response:
    state = deps.ui(request)
    view = realm_records.find(state.env, who.caller, realm_id)
    data = await deps.form(request)
    rtype = data.text("type")
    raw = data.get("records")
    values = [line.strip() for line in raw.splitlines() if line.strip()]
    ttl, errors = _ttl(data)
    if not rtype:
        errors["type"] = "Choose a record type."
    if not values:
        errors["records"] = "Enter at least one record, one per line."
    elif len(raw) > MAX_RECORDS_TEXT:
        errors["records"] = "That is too much text for one RRset."
    if not errors:
        try:
            result = await realm_records.change_rrset(
                state.env, deps.context(request), caller=who.caller, view=view,
                action="upsert", name=data.get("name"), rtype=rtype, ttl=ttl, values=values)
        except (InvalidInput, Denied) as exc:
            errors = _field_error(exc, view, rtype)
        except BackendUnavailable:
            return await _page(request, who, view, status=502, form=data.as_dict(),
                               down=True)
        else:
            done = "rrset_saved" if result.changed else "rrset_unchanged"
            return redirect(request, f"/ui/realms/{realm_id}", done=done)
    return await _page(request, who, view, status=422, form=data.as_dict(), errors=errors)


@router.post("/realms/{realm_id}/rrsets/delete")
async def delete_rrset(request: Request, who: deps.Viewer, realm_id: RowId) -> Response:
    state = deps.ui(request)
    view = realm_records.find(state.env, who.caller, realm_id)
    data = await deps.form(request)
    name, rtype = data.text("name"), data.text("type")
    if not name or not rtype:
        return await _page(request, who, view, status=422,
                           errors={"": "Choose a record set to delete."})
    try:
        await realm_records.change_rrset(state.env, deps.context(request), caller=who.caller,
                                         view=view, action="delete", name=name.rstrip(".") + ".",
                                         rtype=rtype)
    except (InvalidInput, Denied) as exc:
        message = next(iter(_field_error(exc, view, rtype).values()))
        return await _page(request, who, view, status=422,
                           errors={"": f"{name} {rtype} was not deleted: {message}"})
    except BackendUnavailable:
        return await _page(request, who, view, status=502, down=True)
    return redirect(request, f"/ui/realms/{realm_id}", done="rrset_deleted")


@router.post("/realms/{realm_id}/history/{entry_id}/undo")
async def undo_change(request: Request, who: deps.Viewer, realm_id: RowId,
                      entry_id: EventId) -> Response:
    state = deps.ui(request)
    view = realm_records.find(state.env, who.caller, realm_id)
    try:
        await realm_records.undo(state.env, deps.context(request), caller=who.caller,
                                 view=view, entry_id=entry_id)
    except BackendUnavailable:
        return await _page(request, who, view, status=502, down=True)
    except Denied as exc:
        message = next(iter(_field_error(exc, view, "").values()))
        return await _page(request, who, view, status=422,
                           history_error=f"The change was not undone: {message}")
    except (Conflict, InvalidInput, NotFound) as exc:
        status, message = history_view.refusal(exc)
        return await _page(request, who, view, status=status, history_error=message)
    return redirect(request, f"/ui/realms/{realm_id}", done="change_undone")
