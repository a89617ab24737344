"""The records of one realm, as its page shows and edits them.

Reads and changes go through ``records`` (the same validation, ``decide()``,
audit and write lock as the API), with the signed-in account narrowed to this
one realm: the page edits the realm and nothing beside it, whoever looks at
it (an owner with other realms in the zone, or an admin, whose own power
would reach the whole zone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from dnsgate.db import journal
from dnsgate.db.models import Realm
from dnsgate.domain import names
from dnsgate.domain.policy import Principal, RealmScope, realm_covers
from dnsgate.domain.records import RRset
from dnsgate.services import history, realms, records
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.services.records import ChangeInput, ChangeResult


@dataclass(frozen=True, slots=True)
class RealmView:
    realm: Realm
    zone: str

    @property
    def scope(self) -> RealmScope:
        r = self.realm
        return RealmScope(id=r.id, zone=self.zone, zone_id=r.zone_id, name=r.name,
                          kind=r.kind,  # type: ignore[arg-type]
                          types=frozenset(r.types), operations=frozenset(r.ops),
                          status=r.status)


def find(env: Env, caller: Caller, realm_id: int) -> RealmView:
    """A realm the caller owns (any, for admins); NotFound otherwise."""
    realm, zone = realms.find_realm(env, caller, realm_id)
    return RealmView(realm, zone)


def within(caller: Caller, view: RealmView) -> Caller:
    """The caller acting inside this realm only (still named as itself)."""
    p = caller.principal
    narrowed = Principal(account_id=p.account_id, account_active=p.account_active,
                         is_admin=False, realms=(view.scope,))
    return dataclasses.replace(caller, principal=narrowed, token_zone=None)


async def list_realm_rrsets(env: Env, ctx: RequestContext, *, caller: Caller,
                            view: RealmView) -> list[RRset]:
    """The RRsets inside the realm, read from the zone's backend (none until approved).

    BackendUnavailable when the provider does not answer (audited by ``records``)."""
    if view.realm.status != "approved":
        return []
    found = await records.list_rrsets(env, ctx, caller=within(caller, view), zone=view.zone)
    scope = view.scope
    return sorted((rr for rr in found if realm_covers(scope, rr.name, rr.type)),
                  key=lambda rr: (names.labels(rr.name), rr.type))


def owner_name(text: str, view: RealmView) -> str:
    """A name typed on the realm page: empty or ``@`` is the realm's name; a name
    ending in a dot, or one at or below the zone, is absolute; anything else is
    relative to the realm's name. InvalidName when it is no name."""
    stripped = text.strip()
    if stripped.endswith("."):
        return names.normalize(stripped)
    if stripped and stripped != "@":
        absolute = names.normalize(stripped)
        if names.is_at_or_below(absolute, view.zone):
            return absolute
    return names.resolve(stripped, view.realm.name)


async def change_rrset(env: Env, ctx: RequestContext, *, caller: Caller, view: RealmView,
                       action: str, name: str, rtype: str, ttl: int | None = None,
                       values: Sequence[str] = ()) -> ChangeResult:
    """Upsert or delete one RRset of the realm (authorized, validated and audited
    by ``records.apply_changes``)."""
    change = ChangeInput("delete" if action == "delete" else "upsert",
                         owner_name(name, view), rtype, ttl, tuple(values))
    return await records.apply_changes(env, ctx, caller=within(caller, view), zone=view.zone,
                                       inputs=[change])


def realm_history(env: Env, ctx: RequestContext, *, caller: Caller, view: RealmView,
                  before: int | None = None, limit: int = 100) -> list[journal.Entry]:
    """The realm's changes, newest first (none until approved).

    Narrowed to the realm, ``decide()`` shows exactly what the realm may read
    (its names, attached ones such as ``_acme-challenge`` included, and its
    types), as for the realm's tokens: no name filter is needed here, and a
    ``name=`` for a host realm would hide its attached names."""
    if view.realm.status != "approved":
        return []
    return history.changes(env, ctx, caller=within(caller, view), zone=view.zone,
                           before=before, limit=limit)


async def undo(env: Env, ctx: RequestContext, *, caller: Caller, view: RealmView,
               entry_id: int) -> history.Undone:
    """Undo one change of the realm (NotFound for a change outside it)."""
    return await history.undo(env, ctx, caller=within(caller, view), zone=view.zone,
                              entry_id=entry_id)
