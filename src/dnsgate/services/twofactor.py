"""TOTP two-factor sign-in (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of
clock drift either way) with ten one-time recovery codes.

- The shared secret is stored sealed (AES-GCM under the server key, see
  ``backends/sealing.py``): a copy of the database does not yield codes.
  It is written when enrolment starts; 2FA is on only once the person has
  shown a valid code (``totp_enabled_at``), so a half-done enrolment never
  locks anyone out.
- No code is accepted twice: the time step of every accepted code is kept
  (``totp_last_step``) and a code must be of a later step. The check and the
  update are one conditional UPDATE, so two requests racing with the same
  code cannot both win, on SQLite or PostgreSQL.
- Recovery codes come from ``secrets``, are shown once and stored only as
  HMAC-SHA256 under the server key (like tokens: long random secrets need
  no slow hash); each one works once.

Every change and every refused code is audited; codes and secrets never are.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pyotp
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dnsgate.backends import sealing
from dnsgate.db.models import Account
from dnsgate.domain import tokens
from dnsgate.domain.errors import (
    Conflict,
    Denied,
    DnsgateError,
    InvalidInput,
    Unauthenticated,
)
from dnsgate.domain.permissions import Target
from dnsgate.security.passwords import off_loop, verify_password
from dnsgate.services import audit, permissions
from dnsgate.services.accounts import get_account
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.services.site_settings import two_factor_required

ISSUER = "dnsgate"
STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_GROUP = 5
_CODE = re.compile(r"^\d{6}$")
WRONG_CODE = "That code is not valid. Enter the current code from your app."
NOT_PROVEN = "That is neither your password nor a current code."
REQUIRED = "This site requires two-factor sign-in for your account: it cannot be turned off."

Method = Literal["totp", "recovery"]


@dataclass(frozen=True, slots=True)
class Status:
    """What the security page shows about an account's 2FA."""

    enabled: bool
    enabled_at: datetime | None
    recovery_left: int
    required: bool


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A pending enrolment: the secret to put into an authenticator app."""

    secret: str
    uri: str  # otpauth://totp/... for the QR code


def enabled(account: Account) -> bool:
    return account.totp_enabled_at is not None and account.totp_secret is not None


def status(env: Env, *, account_id: int) -> Status:
    with env.db.read() as session:
        account = get_account(session, account_id)
        return Status(enabled=enabled(account), enabled_at=account.totp_enabled_at,
                      recovery_left=len(account.recovery_codes or []) if enabled(account) else 0,
                      required=two_factor_required(session, account))


def begin_enrolment(env: Env, ctx: RequestContext, *, caller: Caller) -> Enrolment:
    """The secret of the caller's pending enrolment, minted on first call (a page
    reload shows the same one, so a scanned QR code stays good)."""
    now = env.clock()
    with env.db.write() as session:
        account = _locked(session, caller.account_id)
        if enabled(account):
            raise Conflict("two-factor sign-in is already on")
        if account.totp_secret is None:
            account.totp_secret = sealing.seal(env.key, pyotp.random_base32())
            audit.record(session, ctx, caller=caller, action="2fa.enrol_start", when=now,
                         target=f"account:{account.id}")
        secret = sealing.unseal(env.key, account.totp_secret)
        name = account.name
    uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)
    return Enrolment(secret=secret, uri=uri)


def confirm_enrolment(env: Env, ctx: RequestContext, *, caller: Caller, code: str) -> list[str]:
    """Turn 2FA on once the person shows a valid code from the pending secret;
    returns the new recovery codes (the only time they exist in clear)."""
    now = env.clock()
    codes: list[str] = []
    with env.db.write() as session:
        account = _locked(session, caller.account_id)
        if enabled(account):
            raise Conflict("two-factor sign-in is already on")
        if account.totp_secret is None:
            raise Conflict("enrolment has not started")
        if _take_totp(env, session, account, code, now):
            account.totp_enabled_at = now
            codes = _new_recovery_codes(env, account)
            audit.record(session, ctx, caller=caller, action="2fa.enable", when=now,
                         target=f"account:{account.id}",
                         details={"recovery_codes": len(codes)})
        else:  # recorded and committed: the refusal is raised below
            audit.record(session, ctx, caller=caller, action="2fa.enable", when=now,
                         outcome="denied", code="totp_invalid", target=f"account:{account.id}")
    if not codes:
        raise InvalidInput(WRONG_CODE, code="totp_invalid")
    return codes


def verify_second_factor(env: Env, ctx: RequestContext, *, account_id: int,
                         code: str) -> Method:
    """The second step of signing in: a current code or an unused recovery code
    (which is then used up). Unauthenticated otherwise; audited either way."""
    now = env.clock()
    target = f"account:{account_id}"
    method: Method | None = None
    with env.db.write() as session:
        account = _locked(session, account_id)
        if account.status != "active" or not enabled(account):
            raise Unauthenticated("two-factor sign-in is not possible", code="login_failed")
        if _take_totp(env, session, account, code, now):
            method = "totp"
        elif _take_recovery_code(env, account, code):
            method = "recovery"
        caller = _self(session, account)
        if method is None:
            audit.record(session, ctx, caller=caller, action="auth.2fa", when=now,
                         outcome="denied", code="totp_invalid", target=target)
        else:
            audit.record(session, ctx, caller=caller, action="auth.2fa", when=now,
                         target=target, details={
                             "method": method,
                             "recovery_left": len(account.recovery_codes or [])})
    if method is None:
        raise Unauthenticated("invalid code", code="totp_invalid")
    return method


async def disable(env: Env, ctx: RequestContext, *, caller: Caller, proof: str) -> None:
    """Turn 2FA off for oneself: ``proof`` is the current password or a current
    code. Refused while the site requires 2FA of the account."""
    now = env.clock()
    password_ok = await _password_proof(env, caller.account_id, proof)
    refusal: DnsgateError | None = None
    with env.db.write() as session:
        account = _locked(session, caller.account_id)
        if not enabled(account):
            raise Conflict("two-factor sign-in is not on")
        if two_factor_required(session, account):
            refusal = Denied(REQUIRED, code="2fa_required")
        elif not _proven(env, session, account, proof, now, password_ok=password_ok):
            refusal = InvalidInput(NOT_PROVEN, code="reauth_failed")
        else:
            _clear(account)
        audit.record(session, ctx, caller=caller, action="2fa.disable", when=now,
                     target=f"account:{account.id}",
                     outcome="denied" if refusal else "success",
                     code=refusal.code if refusal else "ok")
    if refusal is not None:
        raise refusal  # after the commit: the refusal stays in the audit log


async def regenerate_recovery_codes(env: Env, ctx: RequestContext, *, caller: Caller,
                                    proof: str) -> list[str]:
    """Ten new recovery codes; the old ones stop working. Needs the password or a code."""
    now = env.clock()
    password_ok = await _password_proof(env, caller.account_id, proof)
    codes: list[str] = []
    with env.db.write() as session:
        account = _locked(session, caller.account_id)
        if not enabled(account):
            raise Conflict("two-factor sign-in is not on")
        proven = _proven(env, session, account, proof, now, password_ok=password_ok)
        if proven:
            codes = _new_recovery_codes(env, account)
        audit.record(session, ctx, caller=caller, action="2fa.recovery_codes", when=now,
                     target=f"account:{account.id}",
                     outcome="success" if proven else "denied",
                     code="ok" if proven else "reauth_failed")
    if not proven:
        raise InvalidInput(NOT_PROVEN, code="reauth_failed")
    return codes


def reset(env: Env, ctx: RequestContext, *, caller: Caller, account_id: int) -> None:
    """An admin turns an account's 2FA off (lost phone and codes): secret,
    recovery codes and replay state are gone; the person enrols again."""
    permissions.require(caller, "revoke", Target("account", owner_id=account_id),
                        what=f"account {account_id}")
    now = env.clock()
    with env.db.write() as session:
        account = _locked(session, account_id)
        was_on = enabled(account)
        _clear(account)
        audit.record(session, ctx, caller=caller, action="2fa.reset", when=now,
                     target=f"account:{account_id}", details={"was_enabled": was_on})


def current_code(secret: str, when: datetime) -> str:
    """The code an authenticator shows at ``when`` (for tests and tools)."""
    return pyotp.TOTP(secret).at(when)


# --- internals -------------------------------------------------------------

def _locked(session: Session, account_id: int) -> Account:
    """The account row, locked until commit on PostgreSQL (SQLite's write
    transaction already holds the database lock)."""
    account = session.scalars(
        select(Account).where(Account.id == account_id).with_for_update()).first()
    if account is None:
        return get_account(session, account_id)  # raises NotFound
    return account


def _self(session: Session, account: Account) -> Caller:
    from dnsgate.services.auth import account_caller

    return account_caller(session, account.id)


def _take_totp(env: Env, session: Session, account: Account, code: str,
               now: datetime) -> bool:
    """Accept a code of the current step (or one step off) that is newer than
    the last accepted one, and remember its step -- atomically."""
    code = code.strip().replace(" ", "")
    if not _CODE.match(code) or account.totp_secret is None:
        return False
    totp = pyotp.TOTP(sealing.unseal(env.key, account.totp_secret))
    step = int(now.timestamp()) // STEP_SECONDS
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if not hmac.compare_digest(totp.generate_otp(candidate), code):
            continue
        taken = session.execute(
            update(Account)
            .where(Account.id == account.id,
                   or_(Account.totp_last_step.is_(None), Account.totp_last_step < candidate))
            .values(totp_last_step=candidate)
            .execution_options(synchronize_session=False))
        if int(getattr(taken, "rowcount", 0) or 0) != 1:
            return False  # this step (or a later one) was used already: a replay
        set_committed_value(account, "totp_last_step", candidate)
        return True
    return False


def _normalize_recovery(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _take_recovery_code(env: Env, account: Account, code: str) -> bool:
    presented = _normalize_recovery(code)
    if len(presented) != 2 * _RECOVERY_GROUP:
        return False
    digest = tokens.hash_secret(env.key, presented)
    stored = list(account.recovery_codes or [])
    for index, candidate in enumerate(stored):
        if hmac.compare_digest(candidate, digest):
            del stored[index]
            account.recovery_codes = stored  # a new list: the JSON column sees the change
            return True
    return False


def _new_recovery_codes(env: Env, account: Account) -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(2 * _RECOVERY_GROUP))
        codes.append(f"{raw[:_RECOVERY_GROUP]}-{raw[_RECOVERY_GROUP:]}")
    account.recovery_codes = [tokens.hash_secret(env.key, _normalize_recovery(c))
                              for c in codes]
    return codes


async def _password_proof(env: Env, account_id: int, proof: str) -> bool:
    """Whether ``proof`` is the account's password: checked off the event loop
    and before the write transaction (argon2 would hold both). A code is not a
    password (those are longer); it is taken inside the transaction."""
    if not proof or _CODE.match(proof.strip()):
        return False
    with env.db.read() as session:
        stored = get_account(session, account_id).password_hash
    return await off_loop(verify_password, stored, proof)


def _proven(env: Env, session: Session, account: Account, proof: str, now: datetime, *,
            password_ok: bool) -> bool:
    """The person is at the keyboard: a current code, or the password
    (``password_ok``, from :func:`_password_proof`)."""
    if _CODE.match(proof.strip()):
        return _take_totp(env, session, account, proof, now)
    return password_ok


def _clear(account: Account) -> None:
    account.totp_secret = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    account.recovery_codes = None
