"""Authentication: realm tokens, account API keys and passwords become Callers.

A token is looked up by its public id together with everything ``decide()``
needs (realm, account, zone, backend) in one indexed query, so revocation,
disabling and expiry take effect on the very next request on every node.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, ApiKey, Backend, Realm, Token, Zone, table_of
from dnsgate.domain import tokens
from dnsgate.domain.errors import Unauthenticated
from dnsgate.domain.policy import Network, Principal, RealmScope, TokenScope
from dnsgate.security.passwords import verify_password
from dnsgate.services.context import Caller, Env
from dnsgate.services.zones import ZONE_COLUMNS, zone_info_from_row

GENERIC = "missing or invalid credentials"
_T = table_of(Token)
_R = table_of(Realm)
_A = table_of(Account)
_Z = table_of(Zone)
_B = table_of(Backend)
_K = table_of(ApiKey)

_TOKEN_QUERY = (
    select(
        _T.c.secret_hash, _T.c.names, _T.c.types.label("t_types"), _T.c.ops.label("t_ops"),
        _T.c.cidrs, _T.c.not_before, _T.c.expires_at, _T.c.max_idle_seconds, _T.c.revoked_at,
        _T.c.last_used_at, _T.c.created_at, _T.c.account_id,
        _R.c.id.label("realm_id"), _R.c.name.label("realm_name"), _R.c.kind,
        _R.c.types.label("r_types"), _R.c.ops.label("r_ops"), _R.c.status.label("r_status"),
        _A.c.status.label("a_status"), _A.c.role,
        *ZONE_COLUMNS,
    )
    .select_from(_T)
    .join(_R, _R.c.id == _T.c.realm_id)
    .join(_A, _A.c.id == _T.c.account_id)
    .join(_Z, _Z.c.id == _R.c.zone_id)
    .join(_B, _B.c.id == _Z.c.backend_id)
)


def authenticate_token(env: Env, session: Session, text: str) -> Caller:
    """A realm token (``dg_<id>_<secret>``) as a Caller, or Unauthenticated.

    Revoked/expired tokens still authenticate here (the secret matched), so
    ``decide()`` can report ``token_revoked``/``token_expired`` precisely.
    """
    parsed = tokens.parse(text, tokens.TOKEN_PREFIX)
    if parsed is None:
        raise Unauthenticated(GENERIC, code="token_invalid")
    token_id, secret = parsed
    row = session.execute(_TOKEN_QUERY.where(_T.c.id == token_id)).one_or_none()
    if row is None or not tokens.verify_secret(env.key, secret, row.secret_hash):
        raise Unauthenticated(GENERIC, code="token_invalid")
    zone = zone_info_from_row(row)
    realm = RealmScope(
        id=row.realm_id, zone=zone.name, name=row.realm_name, kind=row.kind,
        types=frozenset(row.r_types), operations=frozenset(row.r_ops), status=row.r_status)
    scope = TokenScope(
        id=token_id,
        names=frozenset(row.names) if row.names is not None else None,
        types=frozenset(row.t_types) if row.t_types is not None else None,
        operations=frozenset(row.t_ops) if row.t_ops is not None else None,
        networks=_networks(row.cidrs),
        not_before=row.not_before, expires_at=row.expires_at,
        max_idle=timedelta(seconds=row.max_idle_seconds) if row.max_idle_seconds else None,
        last_used_at=row.last_used_at or row.created_at,  # idle since minted
        revoked=row.revoked_at is not None,
    )
    principal = Principal(
        account_id=row.account_id, account_active=row.a_status == "active",
        is_admin=row.role == "admin", realms=(realm,), token=scope)
    return Caller(principal=principal, actor_type="token", actor_id=token_id, token_zone=zone)


def _networks(cidrs: list[str] | None) -> tuple[Network, ...] | None:
    if cidrs is None:
        return None
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def authenticate_api_key(env: Env, session: Session, text: str) -> Caller:
    """An account API key (``dgk_<id>_<secret>``) as a Caller, or Unauthenticated."""
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
    if row.revoked_at is not None:
        raise Unauthenticated("this API key was revoked", code="token_revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("this API key has expired", code="token_expired")
    session.execute(update(_K).where(_K.c.id == key_id).values(last_used_at=now))
    return account_caller(session, row.account_id, actor_type="api_key", actor_id=key_id)


def account_caller(session: Session, account_id: int, *, actor_type: str = "account",
                   actor_id: str | None = None) -> Caller:
    """An account acting for itself, with all its approved realms."""
    account = session.get(Account, account_id)
    if account is None:
        raise Unauthenticated(GENERIC, code="token_invalid")
    rows = session.execute(
        select(_R.c.id, _R.c.name, _R.c.kind, _R.c.types, _R.c.ops, _R.c.status,
               _Z.c.name.label("zone"))
        .join(_Z, _Z.c.id == _R.c.zone_id)
        .where(_R.c.account_id == account_id, _R.c.status == "approved"))
    realms = tuple(
        RealmScope(id=r.id, zone=r.zone, name=r.name, kind=r.kind, types=frozenset(r.types),
                   operations=frozenset(r.ops), status=r.status) for r in rows)
    principal = Principal(account_id=account.id, account_active=account.status == "active",
                          is_admin=account.role == "admin", realms=realms)
    return Caller(principal=principal, actor_type=actor_type,  # type: ignore[arg-type]
                  actor_id=actor_id or str(account.id))


def authenticate_password(session: Session, username: str, password: str) -> Account:
    """An active account whose password matches, or Unauthenticated (one message)."""
    account = session.scalars(select(Account).where(Account.name == username)).first()
    ok = verify_password(account.password_hash if account else None, password)
    if account is None or not ok or account.status != "active":
        raise Unauthenticated("invalid username or password", code="login_failed")
    return account
