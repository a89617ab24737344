"""TXT values at one name, added and removed one at a time (ACME challenges).

A wildcard and a base-name challenge share ``_acme-challenge.<name>``, so a
facade adds its value next to the others and removes only its own. These
read, then write: a process-local lock per name keeps two requests to one
node from losing a value; the services have no compare-and-set, so two nodes
racing on one name still could.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dnsgate.domain.records import canonical_rdata
from dnsgate.services import records
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.records import ChangeInput, ChangeResult

#: The TTL asked for challenge TXT records (clamped to the zone's bounds).
CHALLENGE_TTL = 60

_name_locks: weakref.WeakValueDictionary[tuple[int, str, str], asyncio.Lock] = (
    weakref.WeakValueDictionary())


@asynccontextmanager
async def _hold(zone: str, name: str) -> AsyncIterator[None]:
    key = (id(asyncio.get_running_loop()), zone, name)
    lock = _name_locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _name_locks[key] = lock
    async with lock:
        yield


def challenge_ttl(env: Env, zone: ZoneInfo) -> int | None:
    """A short TTL for challenge records, within the zone's bounds (None where
    the provider has one TTL for the whole zone)."""
    if not env.backends.get(zone.backend_id).capabilities.per_record_ttl:
        return None
    return min(max(CHALLENGE_TTL, zone.ttl_min), zone.ttl_max)


async def txt_values(env: Env, ctx: RequestContext, caller: Caller, zone: ZoneInfo,
                     name: str) -> list[str]:
    """The TXT records at ``name`` the caller may read, in stored order."""
    found = await records.list_rrsets(env, ctx, caller=caller, zone=zone.name, name=name,
                                      rtype="TXT")
    return [record for rr in found if rr.name == name for record in rr.records]


def _canonical(value: str) -> str:
    return canonical_rdata("TXT", value)


async def add_txt(env: Env, ctx: RequestContext, caller: Caller, zone: ZoneInfo, name: str,
                  value: str, *, keep: int | None = None) -> ChangeResult:
    """Add ``value`` to the TXT RRset at ``name`` as its newest record; with
    ``keep``, only the ``keep`` newest records stay (acme-dns keeps two)."""
    new = _canonical(value)
    async with _hold(zone.name, name):
        current = [r for r in await txt_values(env, ctx, caller, zone, name) if r != new]
        if keep is not None:
            current = current[-(keep - 1):] if keep > 1 else []
        return await records.apply_changes(env, ctx, caller=caller, zone=zone.name, inputs=[
            ChangeInput("upsert", name, "TXT", challenge_ttl(env, zone), [*current, new])])


async def remove_txt(env: Env, ctx: RequestContext, caller: Caller, zone: ZoneInfo,
                     name: str, value: str) -> ChangeResult | None:
    """Remove ``value`` from the TXT RRset at ``name`` (the RRset goes with its
    last record); None when the value was not there."""
    gone = _canonical(value)
    async with _hold(zone.name, name):
        current = await txt_values(env, ctx, caller, zone, name)
        if gone not in current:
            return None
        rest = [r for r in current if r != gone]
        change = (ChangeInput("upsert", name, "TXT", challenge_ttl(env, zone), rest) if rest
                  else ChangeInput("delete", name, "TXT"))
        return await records.apply_changes(env, ctx, caller=caller, zone=zone.name,
                                           inputs=[change])
