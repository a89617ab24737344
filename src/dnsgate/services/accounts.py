"""Accounts and their API keys."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, ApiKey
from dnsgate.domain import permissions as domain_permissions
from dnsgate.domain import tokens
from dnsgate.domain.errors import Conflict, DnsgateError, InvalidInput, NotFound
from dnsgate.domain.permissions import Action, Target
from dnsgate.security.passwords import hash_password
from dnsgate.services import audit, permissions
from dnsgate.services.context import Caller, Env, RequestContext

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 10


def generate_password() -> str:
    """A one-time password for a new account (shown once)."""
    return secrets.token_urlsafe(15)


def create_account(env: Env, ctx: RequestContext, *, caller: Caller | None, name: str,
                   email: str | None = None, admin: bool = False,
                   password: str | None = None, status: str = "active") -> Account:
    """Create an account; the name is lowercase letters, digits, ``.``, ``_`` and ``-``.

    Blocking: the password is hashed here (argon2, before the transaction, so
    the write lock is not held meanwhile); a request handler runs this with
    ``security.passwords.off_loop``."""
    _checked_name(name, status)
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters")
    password_hash = hash_password(password) if password else None
    with env.db.write() as session:
        return add_account(session, ctx, caller=caller, name=name, email=email, admin=admin,
                           password_hash=password_hash, status=status, now=env.clock())


def add_account(session: Session, ctx: RequestContext, *, caller: Caller | None, name: str,
                email: str | None, admin: bool, password_hash: str | None, status: str,
                now: datetime, email_verified: bool = False) -> Account:
    """:func:`create_account` inside the caller's transaction (registration also
    spends an invite in it); the password comes hashed, the hash made before it."""
    username = _checked_name(name, status)
    if session.scalars(select(Account.id).where(Account.name == username)).first():
        raise Conflict(f"account {username!r} already exists")
    account = Account(name=username, email=email, role="admin" if admin else "user",
                      status=status, created_at=now,
                      email_verified_at=now if email_verified else None,
                      password_hash=password_hash)
    session.add(account)
    session.flush()
    audit.record(session, ctx, caller=caller, action="account.create", when=now,
                 target=f"account:{account.id}",
                 details={"name": username, "role": account.role, "status": status})
    return account


def _checked_name(name: str, status: str) -> str:
    """The new account's name as stored, or InvalidInput (also for a bad ``status``)."""
    username = name.strip().lower()
    if not _NAME.match(username):
        raise InvalidInput("name must be 1-64 of a-z 0-9 . _ - and start with a letter or digit")
    if status not in ("pending", "active", "disabled"):
        raise InvalidInput("status must be pending, active or disabled")
    return username


def set_status(env: Env, ctx: RequestContext, *, caller: Caller | None, account_id: int,
               status: str) -> Account:
    """Enable or disable an account; its tokens follow on their next request.

    Refused (audited) as ``domain/permissions.py`` says: an account never
    disables itself, whatever its credential, and the last active admin stays."""
    if status not in ("active", "disabled"):
        raise InvalidInput("status must be active or disabled")
    now = env.clock()
    with env.db.write() as session:
        account = get_account(session, account_id)
        refusal = lockout(session, caller, account, "disable" if status == "disabled"
                          else "enable")
        if refusal is None:
            account.status = status
        audit.record(session, ctx, caller=caller, action=f"account.{status}", when=now,
                     target=f"account:{account_id}", outcome="denied" if refusal else "success",
                     code=refusal.code if refusal else "ok")
    if refusal is not None:
        raise refusal  # after the commit: the refusal stays in the audit log
    return account


def lockout(session: Session, caller: Caller | None, account: Account,
            verb: Action) -> DnsgateError | None:
    """Why ``verb`` (disable, enable, delete) must not happen to ``account``, if it
    must not (``domain/permissions.py``: nobody disables or deletes their own
    account, nor the last active admin).

    The active admins are locked (FOR UPDATE), so two admins disabling each
    other at once cannot both succeed."""
    last_admin = False
    if verb != "enable" and account.role == "admin":
        others = session.scalars(select(Account.id).where(
            Account.role == "admin", Account.status == "active", Account.id != account.id
        ).with_for_update()).all()
        last_admin = not others
    permission = permissions.check(caller, verb, Target(
        "account", owner_id=account.id, last_admin=last_admin))
    if permission.code == "self_lockout":
        return Conflict(f"you cannot {verb} your own account", code="self_lockout")
    if permission.code == "last_admin":
        return Conflict(f"{account.name} is the last active admin", code="last_admin")
    if not permission.allowed:
        return domain_permissions.refusal(permission, f"account {account.id}")
    return None


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account


def find_account(session: Session, name: str) -> Account:
    account = session.scalars(select(Account).where(Account.name == name.strip().lower())).first()
    if account is None:
        raise NotFound(f"account {name!r} not found")
    return account


def list_accounts(env: Env, *, query: str | None = None) -> list[Account]:
    with env.db.read() as session:
        stmt = select(Account).order_by(Account.id)
        if query:  # names are stored lowercase; e-mail addresses as typed
            stmt = stmt.where(Account.name.contains(query.lower(), autoescape=True)
                              | func.lower(Account.email).contains(query.lower(),
                                                                   autoescape=True))
        return list(session.scalars(stmt))


def create_api_key(env: Env, ctx: RequestContext, *, caller: Caller | None, account_id: int,
                   name: str = "", expires_at: datetime | None = None
                   ) -> tuple[ApiKey, str]:
    """A management API key for an account; the full key text is returned once."""
    issued = tokens.issue(tokens.API_KEY_PREFIX)
    now = env.clock()
    with env.db.write() as session:
        get_account(session, account_id)
        permissions.require(caller, "create", Target("api_key", owner_id=account_id),
                            what=f"account {account_id}")
        key = ApiKey(id=issued.id, account_id=account_id, name=name[:100],
                     secret_hash=tokens.hash_secret(env.key, issued.secret),
                     created_at=now, expires_at=expires_at)
        session.add(key)
        audit.record(session, ctx, caller=caller, action="api_key.create", when=now,
                     target=f"api_key:{issued.id}", details={"name": name})
    return key, issued.text


def revoke_api_key(env: Env, ctx: RequestContext, *, caller: Caller, key_id: str,
                   own: bool = False) -> ApiKey:
    """Revoke an API key of the caller (any, for an admin unless ``own``: the
    account's own pages and routes act for the account only)."""
    now = env.clock()
    with env.db.write() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        permissions.require(caller, "revoke", Target("api_key", owner_id=key.account_id),
                            what=f"API key {key_id}", own=own)
        if key.revoked_at is None:
            key.revoked_at = now
            audit.record(session, ctx, caller=caller, action="api_key.revoke", when=now,
                         target=f"api_key:{key_id}")
        return key


def list_api_keys(env: Env, *, account_id: int) -> list[ApiKey]:
    with env.db.read() as session:
        return list(session.scalars(
            select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.created_at)))
