"""Reading and changing RRsets: the use case behind every surface that touches records.

Each change is authorized by ``decide()`` twice over: once before any I/O
(so a denied batch costs nothing), and once more against the zone's current
state inside the write lock, where "create" and "update" can be told apart.
A batch is all-or-nothing: one denied or invalid RRset and nothing is
written.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar, cast

from dnsgate.backends import failures
from dnsgate.backends.base import Backend, TransactionalBackend
from dnsgate.db import journal
from dnsgate.db.engine import zone_lock_key
from dnsgate.db.raw import Executor, Raw, Tx
from dnsgate.domain import names, ownership
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    Conflict,
    Denied,
    DnsgateError,
    InvalidInput,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.policy import Decision, Operation, ZoneClaim, credential_standing, decide
from dnsgate.domain.records import (
    Change,
    Delete,
    RRset,
    Upsert,
    check_cname_exclusive,
    check_ttl,
    normalize_type,
    parsed_rrset,
)
from dnsgate.observability import metrics
from dnsgate.services import audit
from dnsgate.services.context import Caller, Env, RequestContext, ZoneInfo
from dnsgate.services.realms import zone_claims
from dnsgate.services.zones import find_zone, may_see, normalize_zone

log = logging.getLogger("dnsgate.records")
T = TypeVar("T")
MAX_BATCH = 1000
_REFUSED_CREDENTIAL = frozenset({"token_revoked", "token_expired", "account_disabled",
                                 "ip_not_allowed"})


@dataclass(frozen=True, slots=True)
class ChangeInput:
    """An RRset change as a surface received it, not yet validated."""

    action: Literal["upsert", "delete"]
    name: str
    type: str
    ttl: int | None = None
    records: Sequence[str] = ()


@dataclass(slots=True)
class ChangeResult:
    """What a change set did: the resulting RRsets of its upserts (changed or
    not), the RRsets it removed, and how many changes were real or no-ops."""

    upserted: list[RRset] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    changed: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class Planned:
    """A change that will be applied: its operation, and the RRset it replaces
    (None: none; ``old_known`` False when it was written without reading)."""

    change: Change
    op: str
    old: RRset | None
    old_known: bool = True

    def step(self) -> journal.Step:
        new = self.change.rrset if isinstance(self.change, Upsert) else None
        return journal.Step(*self.change.key, self.old, new, self.old_known)


#: The journal's name of each surface (``RequestContext.surface``).
_JOURNAL_SURFACES = {"api": "rest", "web": "ui", "pdns-api": "pdns"}


def actor_of(caller: Caller, ctx: RequestContext) -> journal.Actor:
    """Who a journal entry names: the account, the token and its realm, the surface."""
    principal = caller.principal
    realm_id = (principal.realms[0].id if principal.token is not None and principal.realms
                else None)
    return journal.Actor(caller.actor_type, caller.actor_id, caller.account_ref, realm_id,
                         _JOURNAL_SURFACES.get(ctx.surface, ctx.surface), ctx.request_id)


class _Denial(Denied):
    def __init__(self, decision: Decision, op: str, name: str, rtype: str) -> None:
        super().__init__(f"{op} {rtype} at {name}: {decision.code}", code=decision.code)
        self.op, self.name, self.rtype = op, name, rtype


_TOUCH = """
UPDATE tokens SET last_used_at = :now, last_used_ip = :ip, use_count = use_count + 1
WHERE id = :id
"""


def touch(session: Executor, env: Env, ctx: RequestContext, caller: Caller) -> None:
    """Record that a token was used (time, address, count); nothing for accounts."""
    if caller.actor_type != "token":
        return
    raw = Raw.of(session)
    raw.execute(session, _TOUCH, {"now": raw.time_in(env.clock()), "ip": ctx.source_ip,
                                  "id": caller.actor_id})


def _touch_in_zone_batch(tx: Tx, env: Env, ctx: RequestContext, caller: Caller,
                         zone: str) -> None:
    """``touch`` as a job of the zone's batch: the zone's lock first, as every
    job of that batch takes it, so two nodes never hold the token row and the
    zone's lock in opposite orders (PostgreSQL found that deadlock)."""
    env.db.lock(tx, zone_lock_key(zone))
    touch(tx, env, ctx, caller)


def resolve_zone(env: Env, caller: Caller, zone: str) -> ZoneInfo:
    """The zone a caller names, if it may see it; ZoneNotFound (404) otherwise.

    A token's one zone came with the token, so that costs no query.
    """
    zone_name = normalize_zone(zone)
    token_zone = caller.token_zone
    if token_zone is not None and caller.principal.token is not None:
        if token_zone.name != zone_name:
            raise ZoneNotFound(f"zone {zone_name} not found")
        return token_zone
    with env.db.read() as session:
        info = find_zone(session, zone_name, owner_id=caller.account_id)
        if not may_see(session, caller, info, env.clock()):
            raise ZoneNotFound(f"zone {zone_name} not found")
    return info


def deny(env: Env, ctx: RequestContext, caller: Caller, decision: Decision, *, action: str,
         zone: str | None = None, name: str | None = None, rtype: str | None = None) -> Denied:
    """Audit a denial (in its own transaction) and return the error to raise.

    A credential refused as such (revoked, expired, idle, disabled, wrong
    address) was not used: touching it would restart its idle time.
    """
    with env.db.write() as session:
        audit.record(session, ctx, caller=caller, action=action, when=env.clock(),
                     outcome="denied", code=decision.code, zone=zone, name=name, rtype=rtype)
        if decision.code not in _REFUSED_CREDENTIAL:
            touch(session, env, ctx, caller)
    return Denied(f"{action} denied: {decision.code}", code=decision.code)


def require_standing(env: Env, ctx: RequestContext, caller: Caller, *, action: str,
                     zone: str | None = None) -> None:
    """Refuse (and audit) a revoked, expired, disabled or misplaced credential."""
    standing = credential_standing(caller.principal, ctx.address, env.clock())
    if not standing.allowed:
        raise deny(env, ctx, caller, standing, action=action, zone=zone)


async def list_rrsets(env: Env, ctx: RequestContext, *, caller: Caller, zone: str,
                      name: str | None = None, rtype: str | None = None) -> list[RRset]:
    """RRsets of a zone that the caller may read; nothing outside its realm."""
    info = resolve_zone(env, caller, zone)
    require_standing(env, ctx, caller, action="rrset.read", zone=info.name)
    owner = names.in_zone(name, info.name) if name else None
    wanted = _read_type(rtype) if rtype else None
    backend = env.backends.get(info.backend_id)
    now = env.clock()
    principal = caller.principal
    if backend.capabilities.transactional:
        store = cast(TransactionalBackend, backend)
        with env.db.transaction(write=False) as tx:
            rrsets = store.read_in(tx, info.name, owner, wanted)
        # The use is recorded in a coming batch: a read never waits for the write lock.
        env.commits.later(lambda tx: _touch_in_zone_batch(tx, env, ctx, caller, info.name),
                          key=zone_lock_key(info.name))
    else:
        rrsets = await _upstream(env, ctx, caller, info, "rrset.read",
                                 backend.read(info.name, owner, wanted))
        with env.db.transaction(write=True) as tx:
            touch(tx, env, ctx, caller)
    return [rr for rr in rrsets
            if decide(principal, "read", info.policy, rr.name, rr.type, ctx.address, now)]


def _read_type(text: str) -> str:
    rtype = text.strip().upper()
    if rtype == "SOA":
        return rtype
    return normalize_type(rtype)


def parse_changes(info: ZoneInfo, backend: Backend, inputs: Sequence[ChangeInput]) -> list[Change]:
    """Validate and canonicalize a change set against the zone and its provider."""
    if not inputs:
        raise InvalidInput("the change set is empty")
    if len(inputs) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} changes per request")
    caps = backend.capabilities
    if len(inputs) > 1 and not caps.atomic_batches:
        raise Denied("this backend cannot apply a batch atomically; send one change",
                     code="zone_policy")
    out: list[Change] = []
    seen: set[tuple[str, str]] = set()
    for item in inputs:
        name = names.in_zone(item.name, info.name)
        rtype = normalize_type(item.type)
        if rtype not in caps.record_types:
            raise InvalidRecord(f"backend {info.backend_name} does not support {rtype} records")
        if (name, rtype) in seen:
            raise InvalidInput(f"{name}/{rtype} appears twice in one change set")
        seen.add((name, rtype))
        if item.action == "delete":
            out.append(Delete(name, rtype))
            continue
        if item.ttl is not None and not caps.per_record_ttl:
            raise InvalidRecord(f"backend {info.backend_name} has one TTL for the whole zone; "
                                "leave ttl out")
        ttl = info.default_ttl if item.ttl is None else item.ttl
        check_ttl(ttl, minimum=info.ttl_min, maximum=info.ttl_max)
        out.append(Upsert(parsed_rrset(name, rtype, ttl, item.records)))
    return out


def _decide_change(caller: Caller, ctx: RequestContext, info: ZoneInfo, change: Change,
                   op: Operation, env: Env, claims: Sequence[ZoneClaim] | None) -> Decision:
    name, rtype = change.key
    decision = decide(caller.principal, op, info.policy, name, rtype, ctx.address, env.clock(),
                      claims=claims)
    metrics.count_decision(op, decision.code)
    return decision


def claims_for(env: Env, caller: Caller, info: ZoneInfo,
               rtypes: Iterable[str]) -> Sequence[ZoneClaim] | None:
    """The zone's live claims, read only when one of ``rtypes`` reaches below its
    owner (NS, DNAME, CAA) and the caller is no admin: ``decide()`` needs them then."""
    if caller.is_admin or not any(ownership.reaches_below(rtype) for rtype in rtypes):
        return None
    with env.db.read() as session:
        return zone_claims(session, info.id)


def _preauthorize(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
                  changes: Sequence[Change], claims: Sequence[ZoneClaim] | None) -> bool:
    """Deny before any I/O when no state could make a change allowed.

    True when every change is allowed whatever the zone holds (upserts may
    both create and update), so no read is needed to authorize them.
    """
    state_free = True
    for change in changes:
        if isinstance(change, Delete):
            decision = _decide_change(caller, ctx, info, change, "delete", env, claims)
            if not decision.allowed:
                raise _Denial(decision, "delete", *change.key)
            continue
        as_update = _decide_change(caller, ctx, info, change, "update", env, claims)
        as_create = _decide_change(caller, ctx, info, change, "create", env, claims)
        if not (as_update.allowed or as_create.allowed):
            raise _Denial(as_update, "update", *change.key)
        state_free = state_free and as_update.allowed and as_create.allowed
    return state_free


def _plan(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
          changes: Sequence[Change], current: dict[str, list[RRset]],
          result: ChangeResult, *, claims: Sequence[ZoneClaim] | None,
          per_record_ttl: bool = True) -> list[Planned]:
    """Effective changes against the current state, each with its operation
    and the RRset it replaces (None: none).

    Without per-record TTLs (one TTL per zone) an RRset with the same records
    is unchanged whatever TTL was asked for.
    """
    state = {name: {rr.type: rr for rr in rrsets} for name, rrsets in current.items()}
    planned: list[Planned] = []
    for change in changes:
        name, rtype = change.key
        existing = state.setdefault(name, {}).get(rtype)
        if isinstance(change, Delete):
            if existing is None:
                result.unchanged += 1
                continue
            state[name].pop(rtype)
            planned.append(Planned(change, "delete", existing))
            continue
        op: Operation = "update" if existing is not None else "create"
        decision = _decide_change(caller, ctx, info, change, op, env, claims)
        if not decision.allowed:
            raise _Denial(decision, op, name, rtype)
        state[name][rtype] = change.rrset
        if (existing is not None and set(existing.records) == set(change.rrset.records)
                and (existing.ttl == change.rrset.ttl or not per_record_ttl)):
            result.upserted.append(existing)
            result.unchanged += 1
            continue
        planned.append(Planned(change, op, existing))
    for item in planned:
        if isinstance(item.change, Upsert):
            name, rtype = item.change.key
            check_cname_exclusive(rtype, state[name].keys())
    return planned


async def apply_changes(env: Env, ctx: RequestContext, *, caller: Caller, zone: str,
                        inputs: Sequence[ChangeInput], blind: bool = False) -> ChangeResult:
    """Authorize and apply a change set atomically, and audit it.

    ``blind=True`` says the caller needs no before-state (it does not report
    "unchanged"): on a provider with ``blind_writes``, when the caller may
    create and update alike, the change is then written without reading the
    zone first, one upstream call instead of two.
    """
    info = resolve_zone(env, caller, zone)
    require_standing(env, ctx, caller, action="rrset.change", zone=info.name)
    backend = env.backends.get(info.backend_id)
    changes = parse_changes(info, backend, inputs)
    try:
        if caller.actor_type in ("token", "api_key"):  # one write limit per credential
            await env.limiter.hit("token_write", caller.actor_id)
        claims = claims_for(env, caller, info, (c.key[1] for c in changes))
        state_free = _preauthorize(env, ctx, caller, info, changes, claims)
        if backend.capabilities.transactional:
            return await _apply_transactional(env, ctx, caller, info,
                                              cast(TransactionalBackend, backend), changes,
                                              claims)
        if blind and state_free and backend.capabilities.blind_writes:
            return await _apply_blind(env, ctx, caller, info, backend, changes)
        return await _apply_upstream(env, ctx, caller, info, backend, changes, claims)
    except _Denial as denial:
        raise deny(env, ctx, caller, Decision(False, denial.code),
                   action=f"rrset.{denial.op}", zone=info.name, name=denial.name,
                   rtype=denial.rtype) from None
    except Denied as denied:
        raise deny(env, ctx, caller, Decision(False, denied.code), action="rrset.change",
                   zone=info.name) from None


async def _apply_transactional(env: Env, ctx: RequestContext, caller: Caller,
                               info: ZoneInfo, backend: TransactionalBackend,
                               changes: Sequence[Change],
                               claims: Sequence[ZoneClaim] | None) -> ChangeResult:
    """Read, plan, write and audit in one transaction of the gateway's database,
    committed together with the other requests of this moment (group commit)."""
    lock_key = zone_lock_key(info.name)

    def work(tx: Tx) -> ChangeResult:
        result = ChangeResult()
        env.db.lock(tx, lock_key)
        touched = dict.fromkeys(change.key[0] for change in changes)
        current = {name: backend.read_in(tx, info.name, name) for name in touched}
        planned = _plan(env, ctx, caller, info, changes, current, result, claims=claims)
        serial = backend.apply_in(tx, info.name, [item.change for item in planned])
        _record_applied(tx, env, ctx, caller, info, planned, result, serial=serial,
                        builtin=True)
        return result

    return await env.commits.run(work, key=lock_key)


def _record_applied(tx: Executor, env: Env, ctx: RequestContext, caller: Caller,
                    info: ZoneInfo, planned: Sequence[Planned], result: ChangeResult, *,
                    serial: int | None = None, builtin: bool = False) -> None:
    """Journal and audit the applied changes, note them in the result, and
    touch the token. (The caller holds the zone's lock: the journal's order
    is the order the changes were applied in.)"""
    result.changed = len(planned)
    now = env.clock()
    journal.append(tx, zone_id=info.id, zone=info.name, steps=[item.step() for item in planned],
                   actor=actor_of(caller, ctx), when=now, serial=serial, builtin=builtin)
    for item in planned:
        change, op = item.change, item.op
        name, rtype = change.key
        details = ({"ttl": change.rrset.ttl, "records": list(change.rrset.records)}
                   if isinstance(change, Upsert) else {})
        audit.record(tx, ctx, caller=caller, action=f"rrset.{op}", when=now,
                     zone=info.name, name=name, rtype=rtype, details=details)
        if isinstance(change, Upsert):
            result.upserted.append(change.rrset)
        else:
            result.deleted.append(change.key)
    touch(tx, env, ctx, caller)


#: Above this many names in one change set, read the whole zone once instead
#: (one upstream call; for some providers every read is a whole-zone read).
_READ_ZONE_ABOVE = 1


async def _apply_upstream(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
                          backend: Backend, changes: Sequence[Change],
                          claims: Sequence[ZoneClaim] | None) -> ChangeResult:
    """A change set on a provider: read, plan and apply under the zone's write
    lock (so a read-modify-write never loses a concurrent update), then audit.

    The provider applies the whole set or nothing (adapters without atomic
    batches get one change at a time, see ``parse_changes``); a failure is
    audited with the provider's detail and surfaces as 502/504.
    """
    result = ChangeResult()
    touched = list(dict.fromkeys(change.key[0] for change in changes))
    read = _planning_read(backend)
    async with env.zone_locks.hold(env.db, info.name):
        if len(touched) > _READ_ZONE_ABOVE:
            everything = await _upstream(env, ctx, caller, info, "rrset.change",
                                         read(info.name, None))
            current = {name: [rr for rr in everything if rr.name == name] for name in touched}
        else:
            current = {}
            for name in touched:
                current[name] = await _upstream(env, ctx, caller, info, "rrset.change",
                                                read(info.name, name))
        planned = _plan(env, ctx, caller, info, changes, current, result, claims=claims,
                        per_record_ttl=backend.capabilities.per_record_ttl)
        if planned:
            await _upstream(env, ctx, caller, info, "rrset.change",
                            backend.apply(info.name, [item.change for item in planned]),
                            write=True)
        _record_after_upstream(env, ctx, caller, info, planned, result)
    return result


def _record_after_upstream(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
                           planned: Sequence[Planned], result: ChangeResult) -> None:
    """Journal and audit what a provider confirmed, still under the zone's lock
    (``ZoneLocks.hold``: on PostgreSQL a session advisory lock of another
    connection, so this transaction must not take the zone's lock again)."""
    with env.db.transaction(write=True) as tx:
        _record_applied(tx, env, ctx, caller, info, planned, result)


def _planning_read(backend: Backend) -> Callable[[str, str | None], Awaitable[list[RRset]]]:
    """How to read the state a change is planned against: the adapter's own
    ``read_for_change`` where it keeps a fresh copy of the zone (see
    ``backends/base.py``), else a plain ``read``."""
    cached = getattr(backend, "read_for_change", None)
    if cached is not None:
        return cast(Callable[[str, str | None], Awaitable[list[RRset]]], cached)
    return lambda zone, name: backend.read(zone, name)


async def _apply_blind(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
                       backend: Backend, changes: Sequence[Change]) -> ChangeResult:
    """Write without reading: the provider replaces atomically and refuses CNAME
    conflicts itself, and the caller's scope allows the change whatever exists.
    Still one writer per zone at a time (providers such as PowerDNS on SQLite
    fail concurrent writes). Audited as ``rrset.upsert``: the before-state was
    not looked at."""
    result = ChangeResult()
    planned = [Planned(change, "upsert" if isinstance(change, Upsert) else "delete", None,
                       old_known=False) for change in changes]
    async with env.zone_locks.hold(env.db, info.name):
        await _upstream(env, ctx, caller, info, "rrset.change",
                        backend.apply(info.name, changes), write=True)
        _record_after_upstream(env, ctx, caller, info, planned, result)
    return result


#: What a write whose provider timed out answers (504): nobody knows whether it landed.
UNKNOWN_OUTCOME = ("the DNS provider did not answer in time; the change may still be "
                   "applied: read the RRset again before retrying")
#: What a provider's refusal of a change says on an account's own backend.
_OWN_REFUSAL = "the DNS provider refused the change"


async def _upstream(env: Env, ctx: RequestContext, caller: Caller, info: ZoneInfo,
                    action: str, call: Awaitable[T], *, write: bool = False) -> T:
    """Await a provider call; a failure is audited (with the provider's detail,
    never a credential) and raised as BackendUnavailable / BackendTimeout.

    A ``write`` (the adapter's ``apply``) that timed out may still land: it
    answers 504 saying so, and its audit event's outcome is unknown. An
    account's own backend never passes on its provider's words: the client
    and the audit event get the failure's category (``backends/failures.py``).
    """
    owned = info.policy.owner_id is not None
    try:
        return await metrics.timed_backend_call(info.provider, action, call)
    except BackendUnavailable as exc:
        failure = exc
    except DnsgateError as exc:
        if owned and isinstance(exc, InvalidInput):
            # The provider's refusal may quote what it answered: say that it refused.
            raise InvalidInput(_OWN_REFUSAL, code=exc.code) from None
        if owned and isinstance(exc, Conflict):
            raise Conflict(_OWN_REFUSAL, code=exc.code) from None
        raise
    except Exception as exc:  # an adapter bug or an unmapped library error
        # Where, not what: a library's message may quote a request and its credentials.
        log.error("backend %s failed on %s: %s at\n%s", info.backend_name, info.name,
                  type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
        failure = BackendUnavailable(f"backend {info.backend_name} failed",
                                     detail=f"{type(exc).__name__}")
    timed_out = isinstance(failure, BackendTimeout)
    code = "backend_timeout" if timed_out else "backend_unavailable"
    details: dict[str, str] = {"backend": info.backend_name}
    if owned:
        failure = failures.account_error(failure)
        details["category"] = failure.detail
    else:
        details["upstream"] = failure.detail
    if timed_out and write:
        details["outcome"] = "unknown"
        failure = BackendTimeout(UNKNOWN_OUTCOME, detail=failure.detail)
    with env.db.write() as session:
        audit.record(session, ctx, caller=caller, action=action, when=env.clock(),
                     outcome="error", code=code, zone=info.name, details=details)
    raise failure
