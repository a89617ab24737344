"""Bring your own DNS: an account uses a zone of its own backend for a realm.

The zone joins dnsgate as a private zone of that account (``may_see``,
``request_realm`` and ``decide`` read its owner from the backend), and the
realm on it is approved at once: it is the account's own DNS.
"""

from __future__ import annotations

from sqlalchemy import select

from dnsgate.backends.registry import BUILTIN
from dnsgate.db.models import Backend, Realm, Zone
from dnsgate.domain import names
from dnsgate.domain.errors import Conflict, InvalidInput, NotFound
from dnsgate.domain.policy import REALM_KINDS
from dnsgate.domain.records import WRITABLE_TYPES
from dnsgate.services import realms, zones
from dnsgate.services.context import Caller, Env, RequestContext


async def use_zone(env: Env, ctx: RequestContext, *, caller: Caller, backend_id: int,
                   zone: str, name: str, kind: str) -> Realm:
    """Offer ``zone`` of the caller's own backend to the caller alone and claim
    ``name`` in it. Everything is checked before the zone is added, so a bad
    name leaves nothing behind."""
    zone_name = names.normalize(zone, allow_wildcard=False)
    if kind not in REALM_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(REALM_KINDS)}")
    fqdn = names.resolve(name or "@", zone_name, allow_wildcard=False)
    if not names.is_at_or_below(fqdn, zone_name):
        raise InvalidInput(f"{fqdn} is not in zone {zone_name}", code="invalid_name")
    with env.db.read() as session:
        backend = session.get(Backend, backend_id)
        if backend is None or backend.owner_account_id != caller.account_id \
                or backend.provider == BUILTIN:
            raise NotFound(f"backend {backend_id} not found")
        if backend.status != "active":
            raise InvalidInput(f"backend {backend.name} is disabled")
        existing = session.scalars(select(Zone.backend_id).where(
            Zone.name == zone_name, Zone.owner_account_id == caller.account_id)).first()
        if zones.platform_zone_covering(session, zone_name) is not None:
            raise Conflict(f"{zone_name} is served by the platform; your own DNS cannot "
                           "take a platform name")
    if existing is None:
        types = sorted(env.backends.get(backend_id).capabilities.record_types & WRITABLE_TYPES)
        await zones.add_zone(env, ctx, caller=caller, zone=zone_name, backend=backend.name,
                             policy=zones.PolicyUpdate(visibility="private", approval="auto",
                                                       apex_allowed=True, types=types))
    elif existing != backend_id:
        raise Conflict(f"zone {zone_name} is already served by another of your backends")
    return realms.request_realm(env, ctx, caller=caller, zone=zone_name, name=fqdn, kind=kind)
