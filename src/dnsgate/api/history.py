"""A zone's change history and undo (``services/history.py``), for tokens and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dnsgate.api.deps import AnyCaller, Ctx, EnvDep
from dnsgate.api.openapi import problems
from dnsgate.db import journal
from dnsgate.domain.records import RRset
from dnsgate.services import history

router = APIRouter(tags=["history"])


class RRsetState(BaseModel):
    ttl: int
    records: list[str]


class ChangeActor(BaseModel):
    type: str
    id: str
    account_id: int | None
    realm_id: int | None


class HistoryChange(BaseModel):
    id: int
    time: datetime
    name: str
    type: str
    old: RRsetState | None
    #: False when the change was written without reading the RRset first
    old_known: bool
    new: RRsetState | None
    actor: ChangeActor
    surface: str
    request_id: str | None
    serial: int | None


class History(BaseModel):
    changes: list[HistoryChange]


class UndoResult(BaseModel):
    undone: list[int]
    changed: int
    unchanged: int


def _state(rrset: RRset | None) -> RRsetState | None:
    return None if rrset is None else RRsetState(ttl=rrset.ttl, records=list(rrset.records))


def public(entry: journal.Entry) -> HistoryChange:
    return HistoryChange(
        id=entry.id, time=entry.time, name=entry.name, type=entry.rtype,
        old=_state(entry.old), old_known=entry.old_known, new=_state(entry.new),
        actor=ChangeActor(type=entry.actor_type, id=entry.actor_id,
                          account_id=entry.account_id, realm_id=entry.realm_id),
        surface=entry.surface, request_id=entry.request_id, serial=entry.serial)


@router.get("/zones/{zone}/history", response_model=History)
async def zone_history(env: EnvDep, ctx: Ctx, caller: AnyCaller, zone: str,
                       name: str | None = Query(default=None),
                       type: str | None = Query(default=None),
                       before: int | None = Query(default=None, ge=1),
                       limit: int = Query(default=100, ge=1, le=history.MAX_LIMIT)) -> History:
    """The zone's changes this credential may see, newest first; ``before`` (an
    id) pages back."""
    found = history.changes(env, ctx, caller=caller, zone=zone, name=name, rtype=type,
                            before=before, limit=limit)
    return History(changes=[public(entry) for entry in found])


def _undone(result: history.Undone) -> UndoResult:
    return UndoResult(undone=[entry.id for entry in result.entries],
                      changed=result.result.changed, unchanged=result.result.unchanged)


_UNDO_PROBLEMS: dict[int | str, dict[str, Any]] = problems(404, 409, 502)


@router.post("/zones/{zone}/history/undo", response_model=UndoResult, responses=_UNDO_PROBLEMS)
async def undo_request(env: EnvDep, ctx: Ctx, caller: AnyCaller, zone: str,
                       request_id: str = Query(min_length=1, max_length=64)) -> UndoResult:
    """Undo every change one request made in the zone, as one change set."""
    return _undone(await history.undo_request(env, ctx, caller=caller, zone=zone,
                                              request_id=request_id))


@router.post("/zones/{zone}/history/{change_id}/undo", response_model=UndoResult,
             responses=_UNDO_PROBLEMS)
async def undo_change(env: EnvDep, ctx: Ctx, caller: AnyCaller, zone: str,
                      change_id: int) -> UndoResult:
    """Write the RRset's state before this change back, as a new change."""
    return _undone(await history.undo(env, ctx, caller=caller, zone=zone, entry_id=change_id))
