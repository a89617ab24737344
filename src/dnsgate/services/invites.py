"""Admin invites: a single-use link that lets one person register, whatever
the ``registration`` setting says.

The link carries ``dgi_<id>_<secret>``; only the HMAC of the secret is kept
(as for tokens, ``domain/tokens.py``), so the invites table opens nothing.
An invite may name an address (then it is mailed there, and the account gets
that address, verified), carries the role of the account it makes, expires,
and can be revoked. It is spent by a conditional UPDATE in the transaction
that creates the account, so it is used at most once even under a race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, Invite
from dnsgate.domain import tokens
from dnsgate.domain.errors import Conflict, InvalidInput, NotFound
from dnsgate.domain.permissions import Target
from dnsgate.mail.mailer import Mail, Mailer
from dnsgate.services import audit, permissions
from dnsgate.services.context import Caller, Env, RequestContext

PREFIX = "dgi"
MAX_DAYS = 90
ROLES = ("user", "admin")


@dataclass(frozen=True, slots=True)
class Offer:
    """What a valid invite offers the person holding its link."""

    id: str
    email: str | None
    role: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class InviteRow:
    """An invite as the admin list shows it."""

    invite: Invite
    status: str  # open | used | revoked | expired
    created_by: str | None
    used_by: str | None


def create_invite(env: Env, ctx: RequestContext, *, caller: Caller, email: str | None,
                  role: str = "user", days: int = 7) -> tuple[Invite, str]:
    """A new invite; returns it and its link text (``dgi_...``), shown once."""
    permissions.require(caller, "create", Target("invite"), what="invite")
    if role not in ROLES:
        raise InvalidInput("role must be user or admin", code="invalid_role")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"an invite lasts 1 to {MAX_DAYS} days", code="invalid_days")
    issued = tokens.issue(PREFIX)
    now = env.clock()
    with env.db.write() as session:
        invite = Invite(id=issued.id, secret_hash=tokens.hash_secret(env.key, issued.secret),
                        email=email, role=role, created_by=caller.account_ref, created_at=now,
                        expires_at=now + timedelta(days=days))
        session.add(invite)
        audit.record(session, ctx, caller=caller, action="invite.create", when=now,
                     target=f"invite:{issued.id}",
                     details={"email": email, "role": role, "days": days})
    return invite, issued.text


def usable(env: Env, session: Session, text: str, *, now: datetime) -> Offer:
    """The invite of a link text if it can still be used; InvalidInput
    (``invite_invalid``, one message for unknown, used, revoked, expired)."""
    parsed = tokens.parse(text, PREFIX)
    invite = session.get(Invite, parsed[0]) if parsed else None
    if (parsed is None or invite is None
            or not tokens.verify_secret(env.key, parsed[1], invite.secret_hash)
            or _status(invite, now) != "open"):
        raise InvalidInput("This invitation is not valid: it was used, revoked or has "
                           "expired. Ask for a new one.", code="invite_invalid")
    return Offer(invite.id, invite.email, invite.role, invite.expires_at)


def spend(session: Session, ctx: RequestContext, *, invite_id: str, account_id: int,
          now: datetime) -> None:
    """Mark the invite used by the new account -- only if it is still open; the
    caller's transaction then fails (Conflict) and makes no account."""
    result = session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None),
               Invite.expires_at > now)
        .values(used_at=now, used_by=account_id))
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise Conflict("This invitation was just used or revoked.", code="invite_invalid")


def revoke_invite(env: Env, ctx: RequestContext, *, caller: Caller, invite_id: str) -> Invite:
    """Revoke an open invite (a used one stays used); NotFound for no such invite."""
    permissions.require(caller, "revoke", Target("invite"), what=f"invite {invite_id}")
    now = env.clock()
    with env.db.write() as session:
        invite = session.get(Invite, invite_id)
        if invite is None:
            raise NotFound(f"invite {invite_id} not found")
        if invite.revoked_at is None and invite.used_at is None:
            invite.revoked_at = now
            audit.record(session, ctx, caller=caller, action="invite.revoke", when=now,
                         target=f"invite:{invite_id}")
        return invite


def list_invites(env: Env) -> list[InviteRow]:
    """Every invite, newest first, with its status and who made and used it."""
    now = env.clock()
    with env.db.read() as session:
        names = {row.id: row.name for row in session.execute(select(Account.id, Account.name))}
        rows = session.scalars(select(Invite).order_by(Invite.created_at.desc()))
        return [InviteRow(invite, _status(invite, now),
                          names.get(invite.created_by) if invite.created_by else None,
                          names.get(invite.used_by) if invite.used_by else None)
                for invite in rows]


def invite_mail(mailer: Mailer, *, email: str, text: str, inviter: str,
                expires_at: datetime) -> Mail:
    """The mail that carries an invite's link to its address."""
    link = mailer.link(f"/ui/register?invite={text}")
    return Mail(to=email, subject="You are invited to dnsgate", body=(
        f"Hello,\n\n{inviter} invites you to create an account on dnsgate:\n\n{link}\n\n"
        f"The link works once, until {expires_at:%Y-%m-%d %H:%M} UTC.\n"))


def _status(invite: Invite, now: datetime) -> str:
    if invite.used_at is not None:
        return "used"
    if invite.revoked_at is not None:
        return "revoked"
    if invite.expires_at <= now:
        return "expired"
    return "open"
