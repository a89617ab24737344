"""Signing up: who may, what a new account must still do, and admin approval.

Two site settings decide (``services/site_settings.py``): ``registration`` --
``open`` (anyone), ``invite`` (only with an admin's invite), ``closed`` -- and
``account_approval`` -- ``auto`` or ``admin``. A new account lives in
status ``pending`` until

- its e-mail address is verified (a signed link mailed to it, see
  ``security/signed_links.py``), and
- with approval ``admin``: an admin approved it (only once verified, so an
  admin never activates an address nobody has proven).

An invite stands for the admin's approval, and an invite that named an
address was mailed there, so that address counts as verified: an invited
account is active at once. Open sign-up needs mail; without an SMTP server
only invites work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dnsgate.db.models import Account
from dnsgate.domain.errors import Conflict, Denied, InvalidInput
from dnsgate.domain.permissions import Target
from dnsgate.domain.policy import Principal
from dnsgate.mail.mailer import Mail, Mailer
from dnsgate.security import signed_links
from dnsgate.security.passwords import hash_password, off_loop
from dnsgate.services import audit, invites, password_policy, permissions, site_settings
from dnsgate.services.accounts import add_account, get_account
from dnsgate.services.context import Caller, Env, RequestContext

VERIFY_FOR = timedelta(hours=48)
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


@dataclass(frozen=True, slots=True)
class Policy:
    """The sign-up settings as they are now."""

    registration: str  # open | invite | closed
    approval: str  # auto | admin


@dataclass(frozen=True, slots=True)
class Registered:
    """A new account and what it still waits for."""

    account_id: int
    name: str
    email: str | None
    status: str
    needs_verification: bool


def policy(env: Env) -> Policy:
    with env.db.read() as session:
        return Policy(site_settings.get(session, site_settings.REGISTRATION),
                      site_settings.get(session, site_settings.ACCOUNT_APPROVAL))


def normalize_email(text: str) -> str:
    """An address as stored (trimmed, lowercase), or InvalidInput."""
    email = text.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidInput("Enter an e-mail address such as name@example.org.",
                           code="invalid_email")
    return email


async def register(env: Env, ctx: RequestContext, *, name: str, email: str, password: str,
                   invite: str | None = None, mail_available: bool) -> Registered:
    """Create an account by sign-up (open registration) or through an invite.

    Field problems are InvalidInput with ``code`` naming the field
    (``invalid_email``, ``weak_password``, ...); a taken name is Conflict;
    sign-up that is not allowed is Denied. An invite is spent in the same
    transaction as the account is made, by a conditional update, so two
    people racing with one invite cannot both succeed.
    """
    now = env.clock()
    with env.db.read() as session:
        mode = site_settings.get(session, site_settings.REGISTRATION)
        offer = invites.usable(env, session, invite, now=now) if invite is not None else None
    if offer is None and mode != "open":
        raise Denied("sign-up is by invitation only" if mode == "invite"
                     else "sign-up is closed", code=f"registration_{mode}")
    if offer is None and not mail_available:
        raise Denied("sign-up needs e-mail, and this server cannot send any",
                     code="mail_unavailable")
    address = offer.email if offer is not None and offer.email else normalize_email(email)
    password_policy.check(password, user_inputs=(name, address))
    verified = offer is not None and offer.email is not None
    status = "active" if offer is not None else "pending"
    await env.limiter.hit("register_ip", ctx.source_ip or "-")  # accounts made, not typos
    password_hash = await off_loop(hash_password, password)  # not holding the write lock
    try:
        with env.db.write() as session:
            account = add_account(session, ctx, caller=None, name=name, email=address,
                                  admin=offer is not None and offer.role == "admin",
                                  password_hash=password_hash, status=status, now=now,
                                  email_verified=verified)
            if offer is not None:
                invites.spend(session, ctx, invite_id=offer.id, account_id=account.id, now=now)
            audit.record(session, ctx, caller=_self(account), action="account.register",
                         when=now, target=f"account:{account.id}",
                         details={"via": "invite" if offer else "open", "status": status,
                                  "invite_id": offer.id if offer else None})
            return Registered(account.id, account.name, address, status,
                              needs_verification=not verified)
    except IntegrityError:  # the same name, registered in the same instant
        raise Conflict(f"account {name.strip().lower()!r} already exists") from None


def verification_mail(env: Env, mailer: Mailer, *, account_id: int) -> Mail:
    """The mail with a fresh verification link for an account's address."""
    with env.db.read() as session:
        account = get_account(session, account_id)
    if not account.email:
        raise InvalidInput("this account has no e-mail address")
    token = signed_links.sign(env.key, signed_links.VERIFY_EMAIL, account_id=account.id,
                              expires_at=env.clock() + VERIFY_FOR, binding=account.email)
    link = mailer.link(f"/ui/verify?token={token}")
    hours = int(VERIFY_FOR.total_seconds() // 3600)
    return Mail(to=account.email, subject="Confirm your e-mail address for dnsgate", body=(
        f"Hello {account.name},\n\n"
        f"please confirm that this is your e-mail address by opening this link:\n\n"
        f"{link}\n\n"
        f"The link works for {hours} hours. If you did not sign up for dnsgate, "
        f"ignore this mail.\n"))


def verify_email(env: Env, ctx: RequestContext, *, token: str) -> Account:
    """Mark the address of the link's account verified; with approval ``auto`` a
    pending account becomes active. InvalidInput with code ``link_expired`` or
    ``link_invalid`` (tampered, another purpose, another address) otherwise."""
    now = env.clock()
    claimed = signed_links.claim(token)
    with env.db.write() as session:
        account = session.get(Account, claimed.account_id) if claimed else None
        address = account.email if account is not None else None
        outcome = signed_links.check(env.key, signed_links.VERIFY_EMAIL, token,
                                     binding=address or "", now=now)
        if account is None or not address or outcome != "ok":
            code = "link_expired" if outcome == "expired" else "link_invalid"
            audit.record(session, ctx, caller=None, action="account.verify_email", when=now,
                         outcome="denied", code=code,
                         target=f"account:{account.id}" if account else None)
        else:
            code = "ok"
            first = account.email_verified_at is None
            if first:
                account.email_verified_at = now
            if account.status == "pending" and _approval(session) == "auto":
                account.status = "active"
            audit.record(session, ctx, caller=_self(account), action="account.verify_email",
                         when=now, target=f"account:{account.id}",
                         details={"status": account.status, "again": not first})
    if code != "ok" or account is None:  # after the commit: the refusal stays audited
        raise InvalidInput("This link has expired." if code == "link_expired"
                           else "This link is not valid.", code=code)
    return account


async def request_verification(env: Env, ctx: RequestContext, *, login: str) -> int | None:
    """The account a "send the link again" form names, if it still needs one.

    Throttled per address and per name typed (RateLimited); the answer to the
    person is the same either way, so this returns None quietly."""
    login = login.strip().lower()
    await env.limiter.hit("mail_ip", ctx.source_ip or "-")
    await env.limiter.hit("mail_account", f"verify|{login}")
    with env.db.write() as session:
        account = _by_login(session, login)
        wanted = (account is not None and account.email is not None
                  and account.email_verified_at is None and account.status != "disabled")
        audit.record(session, ctx, caller=None, action="account.verification_request",
                     when=env.clock(), outcome="success" if wanted else "denied",
                     code="ok" if wanted else "not_applicable",
                     target=f"account:{account.id}" if account else None,
                     details={"login": login})
        return account.id if wanted and account is not None else None


def approve_account(env: Env, ctx: RequestContext, *, caller: Caller,
                    account_id: int) -> Account:
    """An admin lets a pending account in. Conflict ``not_pending`` if it is not
    pending, ``email_unverified`` while its address is unproven."""
    permissions.require(caller, "approve", Target("account", owner_id=account_id),
                        what=f"account {account_id}")
    now = env.clock()
    with env.db.write() as session:
        account = get_account(session, account_id)
        if account.status != "pending":
            refusal = Conflict("this account is not waiting for approval", code="not_pending")
        elif account.email and account.email_verified_at is None:
            refusal = Conflict("the account's e-mail address is not verified yet",
                               code="email_unverified")
        else:
            refusal = None
            account.status = "active"
        audit.record(session, ctx, caller=caller, action="account.approve", when=now,
                     target=f"account:{account_id}", outcome="denied" if refusal else "success",
                     code=refusal.code if refusal else "ok")
    if refusal is not None:
        raise refusal  # after the commit: the refusal stays in the audit log
    return account


def waiting_for(account: Account) -> str | None:
    """What a pending account waits for, in words for the admin list."""
    if account.status != "pending":
        return None
    if account.email and account.email_verified_at is None:
        return "e-mail verification"
    return "admin approval"


def _by_login(session: Session, login: str) -> Account | None:
    """The account a person named by username or by verified-or-not address."""
    column = Account.email if "@" in login else Account.name
    return session.scalars(select(Account).where(column == login).order_by(Account.id)).first()


def _approval(session: Session) -> str:
    return str(site_settings.get(session, site_settings.ACCOUNT_APPROVAL))


def _self(account: Account) -> Caller:
    """A person acting on their own new account (not signed in: no session yet)."""
    return Caller(principal=Principal(account_id=account.id, account_active=False,
                                      is_admin=False, realms=()),
                  actor_type="account", actor_id=str(account.id))
