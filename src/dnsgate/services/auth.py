"""Authentication: realm tokens, account API keys and passwords become Callers.

A token is looked up by its public id together with everything ``decide()``
needs (realm, account, zone, backend) in one indexed query, so revocation,
disabling and expiry take effect on the very next request on every node.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, ApiKey, Realm, Zone, table_of
from dnsgate.db.raw import Executor, Raw
from dnsgate.domain import tokens
from dnsgate.domain.errors import Unauthenticated
from dnsgate.domain.policy import (
    Network,
    Principal,
    RealmScope,
    TokenScope,
    credential_standing,
)
from dnsgate.security.passwords import off_loop, verify_password
from dnsgate.services.context import Caller, Env
from dnsgate.services.zones import ZONE_KEYS, zone_info_from_row

GENERIC = "missing or invalid credentials"
_R = table_of(Realm)
_Z = table_of(Zone)
_K = table_of(ApiKey)

# One indexed lookup with everything decide() needs. Hand-written SQL: it runs
# on every machine request (see db/raw.py).
_LOOKUP_SQL = """
SELECT t.secret_hash, t.names, t.types, t.ops, t.cidrs, t.not_before, t.expires_at,
       t.max_idle_seconds, t.revoked_at, t.last_used_at, t.created_at, t.account_id,
       r.id, r.name, r.kind, r.types, r.ops, r.status,
       a.status, a.role,
       z.id, z.name, z.status, z.visibility, z.approval, z.min_depth, z.max_depth,
       z.apex_allowed, z.allowed_types, z.allowed_ops, z.realm_quota, z.ttl_min, z.ttl_max,
       z.default_ttl, z.backend_id, b.name, b.provider, b.status, b.owner_account_id,
       z.attached_labels
FROM tokens t
JOIN realms r ON r.id = t.realm_id
JOIN accounts a ON a.id = t.account_id
JOIN zones z ON z.id = r.zone_id
JOIN backends b ON b.id = z.backend_id
WHERE t.id = :id
"""


def authenticate_credential(env: Env, text: str) -> Caller:
    """A realm token (``dg_``) or an account API key (``dgk_``) as a Caller, each
    on its own path (tokens on the hot bare-connection read); Unauthenticated
    otherwise. Every surface that takes a machine credential comes here."""
    if text.startswith(f"{tokens.API_KEY_PREFIX}_"):
        with env.db.write() as session:  # a key's use is recorded
            return authenticate_api_key(env, session, text)
    with env.db.transaction(write=False) as tx:
        return authenticate_token(env, tx, text)


def authenticate_token(env: Env, session: Executor, text: str) -> Caller:
    """A realm token (``dg_<id>_<secret>``) as a Caller, or Unauthenticated.

    Revoked/expired tokens still authenticate here (the secret matched), so
    ``decide()`` can report ``token_revoked``/``token_expired`` precisely.
    """
    parsed = tokens.parse(text, tokens.TOKEN_PREFIX)
    if parsed is None:
        raise Unauthenticated(GENERIC, code="token_invalid")
    token_id, secret = parsed
    raw = Raw.of(session)
    row = raw.execute(session, _LOOKUP_SQL, {"id": token_id}).fetchone()
    if row is None or not tokens.verify_secret(env.key, secret, row[0]):
        raise Unauthenticated(GENERIC, code="token_invalid")
    return _token_caller(raw, token_id, row)


def token_caller(session: Executor, token_id: str) -> Caller | None:
    """A token as the Caller it would be, by id alone (no secret): for its owner
    to ask what it may do (``services/explain.py``). None: no such token."""
    raw = Raw.of(session)
    row = raw.execute(session, _LOOKUP_SQL, {"id": token_id}).fetchone()
    return None if row is None else _token_caller(raw, token_id, row)


def _token_caller(raw: Raw, token_id: str, row: Any) -> Caller:
    (_, t_names, t_types, t_ops, cidrs, not_before, expires_at, max_idle, revoked_at,
     last_used_at, created_at, account_id, realm_id, realm_name, kind, r_types, r_ops,
     r_status, a_status, role, *zone_row) = row
    zone = zone_info_from_row(dict(zip(ZONE_KEYS, zone_row, strict=True)), raw)
    realm = RealmScope(
        id=realm_id, zone=zone.name, zone_id=zone.id, name=realm_name, kind=kind,
        types=raw.json_set(r_types) or frozenset(),
        operations=raw.json_set(r_ops) or frozenset(),
        status=r_status)
    scope = TokenScope(
        id=token_id,
        names=raw.json_set(t_names),
        types=raw.json_set(t_types),
        operations=raw.json_set(t_ops),
        networks=_networks(raw.json_out(cidrs)),
        not_before=raw.time_out(not_before), expires_at=raw.time_out(expires_at),
        max_idle=timedelta(seconds=max_idle) if max_idle else None,
        last_used_at=raw.time_out(last_used_at or created_at),  # idle since minted
        revoked=revoked_at is not None,
    )
    principal = Principal(
        account_id=account_id, account_active=a_status == "active",
        is_admin=role == "admin", realms=(realm,), token=scope)
    return Caller(principal=principal, actor_type="token", actor_id=token_id, token_zone=zone)


def _networks(cidrs: list[str] | None) -> tuple[Network, ...] | None:
    if cidrs is None:
        return None
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


_DEAD = {"token_revoked": "this API key was revoked", "token_expired": "this API key has expired"}


def authenticate_api_key(env: Env, session: Session, text: str) -> Caller:
    """An account API key (``dgk_<id>_<secret>``) as a Caller, or Unauthenticated
    (``token_revoked``/``token_expired`` for a dead key, as for a dead token)."""
    parsed = tokens.parse(text, tokens.API_KEY_PREFIX)
    if parsed is None:
        raise Unauthenticated(GENERIC, code="token_invalid")
    key_id, secret = parsed
    row = session.execute(
        select(_K.c.secret_hash, _K.c.account_id, _K.c.revoked_at, _K.c.expires_at)
        .where(_K.c.id == key_id)).one_or_none()
    if row is None or not tokens.verify_secret(env.key, secret, row.secret_hash):
        raise Unauthenticated(GENERIC, code="token_invalid")
    now = env.clock()
    caller = account_caller(session, row.account_id, actor_type="api_key", actor_id=key_id)
    # The key's own state is judged by the rules that judge a token's (rows 1-2
    # of decide: one place for "revoked" and "expired", with the same codes);
    # the account's standing (row 3 on) is asked by every surface as for tokens.
    key = TokenScope(id=key_id, revoked=row.revoked_at is not None, expires_at=row.expires_at)
    standing = credential_standing(dataclasses.replace(caller.principal, token=key), None, now)
    if standing.code in _DEAD:
        raise Unauthenticated(_DEAD[standing.code], code=standing.code)
    session.execute(update(_K).where(_K.c.id == key_id).values(last_used_at=now))
    return caller


def account_caller(session: Session, account_id: int, *, actor_type: str = "account",
                   actor_id: str | None = None) -> Caller:
    """An account acting for itself, with all its approved realms."""
    account = session.get(Account, account_id)
    if account is None:
        raise Unauthenticated(GENERIC, code="token_invalid")
    rows = session.execute(
        select(_R.c.id, _R.c.name, _R.c.kind, _R.c.types, _R.c.ops, _R.c.status,
               _R.c.zone_id, _Z.c.name.label("zone"))
        .join(_Z, _Z.c.id == _R.c.zone_id)
        .where(_R.c.account_id == account_id, _R.c.status == "approved"))
    realms = tuple(
        RealmScope(id=r.id, zone=r.zone, zone_id=r.zone_id, name=r.name, kind=r.kind,
                   types=frozenset(r.types), operations=frozenset(r.ops), status=r.status)
        for r in rows)
    principal = Principal(account_id=account.id, account_active=account.status == "active",
                          is_admin=account.role == "admin", realms=realms)
    return Caller(principal=principal, actor_type=actor_type,  # type: ignore[arg-type]
                  actor_id=actor_id or str(account.id))


async def authenticate_password(env: Env, *, username: str, password: str) -> Account:
    """An active account whose password matches, or Unauthenticated (one message).

    Only someone who knows the password learns that the account is still
    pending (code ``account_pending``): they registered it, and need to know
    it waits for their e-mail or an admin. The check runs off the event loop,
    after the read (no session waits on argon2)."""
    with env.db.read() as session:
        account = session.scalars(select(Account).where(Account.name == username)).first()
    ok = await off_loop(verify_password, account.password_hash if account else None, password)
    if account is not None and ok and account.status == "pending":
        raise Unauthenticated("this account is not active yet", code="account_pending")
    if account is None or not ok or account.status != "active":
        raise Unauthenticated("invalid username or password", code="login_failed")
    return account
