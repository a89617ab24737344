"""A zone's history from the change journal, and undo.

What a caller sees of the history is what ``decide()`` lets it read: a token
sees the changes of its realm's names only. An undo writes the RRset's state
before the change back as a new change, through ``records.apply_changes``
(``decide()``, the audit and the journal, like any write). It undoes only
the newest change of each RRset: undoing an older one would silently throw
away what came after it, so that answers 409 ``changed_since``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dnsgate.db import journal
from dnsgate.domain import names
from dnsgate.domain.errors import Conflict, InvalidInput, NotFound
from dnsgate.domain.policy import decide
from dnsgate.domain.records import normalize_type
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.records import (
    ChangeInput,
    ChangeResult,
    apply_changes,
    require_standing,
    resolve_zone,
)

MAX_LIMIT = 500
_SCAN = 500  # entries read per round while filtering what the caller may see


@dataclass(frozen=True, slots=True)
class Undone:
    """What an undo did: the entries it reverted, and the write it made."""

    entries: list[journal.Entry]
    result: ChangeResult


def _visible(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
             entry: journal.Entry) -> bool:
    return decide(caller.principal, "read", info.policy, entry.name, entry.rtype,
                  ctx.address, env.clock()).allowed


def changes(env: Env, ctx: RequestContext, *, caller: Caller, zone: str,
            name: str | None = None, rtype: str | None = None, before: int | None = None,
            limit: int = 100) -> list[journal.Entry]:
    """The zone's changes the caller may see, newest first (``before``: an entry
    id to page from)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    info = resolve_zone(env, caller, zone)
    require_standing(env, ctx, caller, action="history.read", zone=info.name)
    owner = names.in_zone(name, info.name) if name else None
    wanted = normalize_type(rtype) if rtype else None
    found: list[journal.Entry] = []
    cursor = before
    with env.db.read() as session:
        while len(found) < limit:
            batch = journal.history(session, info.id, name=owner, rtype=wanted, before=cursor,
                                    limit=_SCAN)
            found += [e for e in batch if _visible(env, ctx, caller, info, e)]
            if len(batch) < _SCAN:
                break
            cursor = batch[-1].id
    return found[:limit]


async def undo(env: Env, ctx: RequestContext, *, caller: Caller, zone: str,
               entry_id: int) -> Undone:
    """Write back the state before one change."""
    info = resolve_zone(env, caller, zone)
    require_standing(env, ctx, caller, action="history.undo", zone=info.name)
    with env.db.read() as session:
        entry = journal.entry(session, info.id, entry_id)
    if entry is None or not _visible(env, ctx, caller, info, entry):
        raise NotFound(f"change {entry_id} not found in zone {info.name}")
    return await _revert(env, ctx, caller, info, [entry])


async def undo_request(env: Env, ctx: RequestContext, *, caller: Caller, zone: str,
                       request_id: str) -> Undone:
    """Write back the state before every change one request made in the zone,
    as one change set."""
    if not request_id.strip():
        raise InvalidInput("request_id is required")
    info = resolve_zone(env, caller, zone)
    require_standing(env, ctx, caller, action="history.undo", zone=info.name)
    with env.db.read() as session:
        entries = journal.of_request(session, info.id, request_id.strip())
    if not entries or not all(_visible(env, ctx, caller, info, e) for e in entries):
        raise NotFound(f"no changes of request {request_id} in zone {info.name}")
    return await _revert(env, ctx, caller, info, entries)


async def _revert(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
                  entries: Sequence[journal.Entry]) -> Undone:
    blind = [e.id for e in entries if not e.old_known]
    if blind:
        raise Conflict(f"change {blind[0]} was written without reading the RRset first; "
                       "its state before is not known", code="old_unknown")
    first_of: dict[tuple[str, str], journal.Entry] = {}
    for entry in entries:  # oldest first: the state before the whole set
        first_of.setdefault((entry.name, entry.rtype), entry)
    with env.db.read() as session:
        newest = journal.last_writes(session, info.id, list(first_of))
    ids = {e.id for e in entries}
    for key, latest in newest.items():
        if latest.id not in ids:
            raise Conflict(f"{key[0]}/{key[1]} changed since (change {latest.id}); "
                           "undo that change first", code="changed_since")
    inputs = [ChangeInput("delete", e.name, e.rtype) if e.old is None
              else ChangeInput("upsert", e.name, e.rtype, e.old.ttl, e.old.records)
              for e in first_of.values()]
    result = await apply_changes(env, ctx, caller=caller, zone=info.name, inputs=inputs)
    return Undone(list(entries), result)
