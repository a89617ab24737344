"""Web sessions: a signed-in browser, with idle and absolute timeouts.

The cookie carries a 256-bit random value; the database keeps only its
HMAC-SHA256 under the server key (as for tokens, see ``domain/tokens.py``), so
a leaked table opens nothing. A new value is minted at every login, so a
value planted before login (session fixation) is worthless after it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, WebSession
from dnsgate.domain import tokens
from dnsgate.domain.errors import NotFound
from dnsgate.services import audit
from dnsgate.services.context import Caller, Env, RequestContext

SESSION_BYTES = 32  # 256 bits
#: Activity is written back at most this often (a page view is not a write).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session: whose, and its stored id (the HMAC, never the cookie value)."""

    id: str
    account_id: int
    created_at: datetime
    expires_at: datetime


def session_key(env: Env, value: str) -> str:
    """The stored id of a cookie value."""
    return tokens.hash_secret(env.key, value)


def start_session(env: Env, ctx: RequestContext, *, account_id: int,
                  timeouts: Timeouts) -> tuple[str, SessionInfo]:
    """A new session for an account; returns (cookie value, info). The cookie
    value exists only in this return value and in the browser."""
    value = secrets.token_urlsafe(SESSION_BYTES)
    now = env.clock()
    row = WebSession(id=session_key(env, value), account_id=account_id, created_at=now,
                     last_seen_at=now, expires_at=now + timeouts.absolute,
                     source_ip=ctx.source_ip, user_agent=(ctx.user_agent or "")[:255] or None)
    with env.db.write() as session:
        session.add(row)
    return value, SessionInfo(row.id, account_id, now, row.expires_at)


def resume_session(env: Env, value: str, *, timeouts: Timeouts) -> SessionInfo | None:
    """The live session of a cookie value, or None: unknown, idle too long,
    past its absolute limit, or its account is no longer active. A dead
    session is deleted on sight."""
    if not value or len(value) > 128:
        return None
    key = session_key(env, value)
    now = env.clock()
    with env.db.read() as session:
        row = session.execute(
            select(WebSession, Account.status).join(Account, Account.id == WebSession.account_id)
            .where(WebSession.id == key)).one_or_none()
    if row is None:
        return None
    web, status = row
    if status != "active" or now >= web.expires_at or now - web.last_seen_at >= timeouts.idle:
        end_session(env, key)
        return None
    if now - web.last_seen_at >= TOUCH_EVERY:
        with env.db.write() as session:
            stored = session.get(WebSession, key)
            if stored is not None:
                stored.last_seen_at = now
    return SessionInfo(web.id, web.account_id, web.created_at, web.expires_at)


def end_session(env: Env, key: str) -> None:
    """Forget one session (logout)."""
    with env.db.write() as session:
        session.execute(delete(WebSession).where(WebSession.id == key))


def end_all_sessions(env: Env, ctx: RequestContext, *, caller: Caller) -> int:
    """Sign the caller's account out everywhere; returns how many sessions ended."""
    now = env.clock()
    with env.db.write() as session:
        result = session.execute(
            delete(WebSession).where(WebSession.account_id == caller.account_id))
        ended = int(getattr(result, "rowcount", 0) or 0)
        audit.record(session, ctx, caller=caller, action="session.end_all", when=now,
                     target=f"account:{caller.account_id}", details={"sessions": ended})
    return ended


def list_sessions(env: Env, *, account_id: int) -> list[WebSession]:
    """An account's sessions, newest first."""
    with env.db.read() as session:
        return list(session.scalars(
            select(WebSession).where(WebSession.account_id == account_id)
            .order_by(WebSession.created_at.desc())))


def session_ref(env: Env, key: str) -> str:
    """A name for a session that is safe in a URL or page: derived from the stored
    id under the server key, so it reveals nothing the CSRF token is bound to."""
    return tokens.hash_secret(env.key, f"session-ref|{key}")[:24]


def revoke_session(env: Env, ctx: RequestContext, *, caller: Caller, ref: str) -> str:
    """End one of the caller's own sessions by its ref; returns its stored id.
    A ref of no session of theirs is NotFound, whoever's it is."""
    now = env.clock()
    with env.db.write() as session:
        keys = session.scalars(
            select(WebSession.id).where(WebSession.account_id == caller.account_id))
        key = next((k for k in keys if hmac.compare_digest(session_ref(env, k), ref)), None)
        if key is None:
            raise NotFound("session not found")
        session.execute(delete(WebSession).where(WebSession.id == key))
        audit.record(session, ctx, caller=caller, action="session.revoke", when=now,
                     target=f"account:{caller.account_id}",
                     details={"session": ref})
    return key


def end_account_sessions(session: Session, *, account_id: int, keep: str | None = None) -> int:
    """End an account's sessions (all but ``keep``) in the caller's transaction:
    a new password must lock out whoever knew the old one. Returns how many."""
    stmt = delete(WebSession).where(WebSession.account_id == account_id)
    if keep is not None:
        stmt = stmt.where(WebSession.id != keep)
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)
