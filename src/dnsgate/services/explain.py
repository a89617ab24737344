"""Explain: what ``decide()`` answers for one operation on one RRset, the row of
its table that decided, and the realm that allowed it (or, for a denial, the
realm that came closest). It decides nothing itself."""

from __future__ import annotations

from dataclasses import dataclass

from dnsgate.domain import names
from dnsgate.domain.errors import InvalidInput, NotFound
from dnsgate.domain.permissions import Target
from dnsgate.domain.policy import OPERATIONS, Operation, RealmScope, decide_by_realm
from dnsgate.domain.records import normalize_type
from dnsgate.services import auth, permissions
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.services.records import claims_for, resolve_zone


@dataclass(frozen=True, slots=True)
class Explanation:
    """``decide()``'s answer, its row, and the realm that decided or came closest."""

    allowed: bool
    code: str
    row: int
    realm: RealmScope | None


def explain(env: Env, ctx: RequestContext, *, caller: Caller, zone: str, name: str,
            rtype: str, operation: str) -> Explanation:
    """``decide()``'s answer for ``caller``. ``name`` is absolute (or ``@``).

    InvalidInput (422) for a bad name, type or operation; ZoneNotFound (404)
    for a zone the caller may not see.
    """
    if operation not in OPERATIONS:
        raise InvalidInput(f"operation must be one of {', '.join(OPERATIONS)}")
    op: Operation = operation
    info = resolve_zone(env, caller, zone)
    fqdn = names.in_zone(name, info.name)
    wanted = normalize_type(rtype)
    claims = claims_for(env, caller, info, (wanted,))
    decision, realm = decide_by_realm(caller.principal, op, info.policy, fqdn, wanted,
                                      ctx.address, env.clock(), claims=claims)
    return Explanation(decision.allowed, decision.code, decision.row, realm)


def token_as_caller(env: Env, *, caller: Caller, token_id: str) -> Caller:
    """One of the caller's tokens as the Caller it would be (any token, for an
    admin), to explain what it may do; NotFound otherwise."""
    with env.db.transaction(write=False) as tx:
        found = auth.token_caller(tx, token_id)
    if found is None:
        raise NotFound(f"token {token_id} not found")
    permissions.require(caller, "see", Target("token", owner_id=found.account_id),
                        what=f"token {token_id}")
    return found
