"""A new password: by an e-mailed reset link, or by the signed-in owner.

A reset link is bound to a fingerprint of the password hash it was issued
for (``security/signed_links.py``): the moment any new password is set, every
link issued before is void, the one just used included. Asking for a link
gives the same answer whether or not the account exists, and is throttled
per address and per name typed. A new password must pass the password
policy, and ends the account's other sessions: whoever knew the old password
(or held a stolen cookie) is out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.db.models import Account
from dnsgate.domain.errors import InvalidInput
from dnsgate.mail.mailer import Mail, Mailer
from dnsgate.security import signed_links
from dnsgate.security.passwords import hash_password, off_loop, verify_password
from dnsgate.services import audit, password_policy, sessions
from dnsgate.services.accounts import get_account
from dnsgate.services.context import Caller, Env, RequestContext

RESET_FOR = timedelta(hours=1)


async def reset_mails(env: Env, ctx: RequestContext, mailer: Mailer, *, login: str) -> list[Mail]:
    """The reset mails for a "forgot password" request (usually one, none if
    nobody matches): by username, or by a *verified* address. Throttled
    (RateLimited) per address and per name typed, before anything is looked up,
    so the throttle tells nothing either."""
    login = login.strip().lower()[:254]
    await env.limiter.hit("mail_ip", ctx.source_ip or "-")
    await env.limiter.hit("mail_account", f"reset|{login}")
    now = env.clock()
    with env.db.write() as session:
        if "@" in login:
            found = list(session.scalars(select(Account).where(
                Account.email == login, Account.email_verified_at.is_not(None))))
        else:
            found = list(session.scalars(select(Account).where(Account.name == login)))
        eligible = [a for a in found if a.status != "disabled" and a.email
                    and a.email_verified_at is not None]
        audit.record(session, ctx, caller=None, action="password.reset_request", when=now,
                     outcome="success" if eligible else "denied",
                     code="ok" if eligible else "no_account",
                     target=",".join(f"account:{a.id}" for a in eligible) or None,
                     details={"login": login})
        return [_reset_mail(env, mailer, account) for account in eligible]


def _reset_mail(env: Env, mailer: Mailer, account: Account) -> Mail:
    token = signed_links.sign(env.key, signed_links.RESET_PASSWORD, account_id=account.id,
                              expires_at=env.clock() + RESET_FOR,
                              binding=signed_links.fingerprint(env.key, account.password_hash))
    link = mailer.link(f"/ui/password/reset?token={token}")
    minutes = int(RESET_FOR.total_seconds() // 60)
    assert account.email is not None
    return Mail(to=account.email, subject="Reset your dnsgate password", body=(
        f"Hello {account.name},\n\n"
        f"someone (hopefully you) asked to reset the password of your dnsgate account. "
        f"Choose a new one here:\n\n{link}\n\n"
        f"The link works once, for {minutes} minutes. If you did not ask for it, "
        f"ignore this mail: your password stays as it is.\n"))


def check_reset_link(env: Env, *, token: str) -> Account:
    """The account a reset link is for, if the link is good; InvalidInput with
    code ``link_expired`` or ``link_invalid`` (tampered, used, other purpose)."""
    claimed = signed_links.claim(token)
    with env.db.read() as session:
        account = session.get(Account, claimed.account_id) if claimed else None
    binding = signed_links.fingerprint(env.key, account.password_hash if account else None)
    outcome = signed_links.check(env.key, signed_links.RESET_PASSWORD, token,
                                 binding=binding, now=env.clock())
    if account is None or outcome != "ok" or account.status == "disabled":
        raise InvalidInput("This link has expired." if outcome == "expired"
                           else "This link is not valid: it was used already, or the password "
                                "has changed since.",
                           code="link_expired" if outcome == "expired" else "link_invalid")
    return account


async def reset_password(env: Env, ctx: RequestContext, *, token: str,
                         password: str) -> Account:
    """Set the password of a reset link's account; ends all its sessions.
    The link is checked again inside the transaction (the hash row is locked),
    so two uses of one link cannot both succeed. The new hash is made before,
    off the event loop."""
    now = env.clock()
    try:
        account = check_reset_link(env, token=token)
    except InvalidInput as refused:
        with env.db.write() as session:
            audit.record(session, ctx, caller=None, action="password.reset", when=now,
                         outcome="denied", code=refused.code)
        raise
    password_policy.check(password, user_inputs=(account.name, account.email))
    password_hash = await off_loop(hash_password, password)
    with env.db.write() as session:
        row = session.scalars(select(Account).where(Account.id == account.id)
                              .with_for_update()).one()
        if row.password_hash != account.password_hash:
            raise InvalidInput("This link is not valid: it was used already.",
                               code="link_invalid")
        ended = _set(session, row, password_hash, now=now, keep=None)
        audit.record(session, ctx, caller=None, action="password.reset", when=now,
                     target=f"account:{row.id}", details={"sessions_ended": ended})
        return row


async def change_password(env: Env, ctx: RequestContext, *, caller: Caller, session_id: str,
                          current: str, password: str) -> int:
    """The signed-in owner sets a new password (the current one is required);
    their other sessions end, this one (``session_id``) stays. Returns how many
    ended. A wrong current password is InvalidInput ``wrong_password``,
    throttled per account like logins. Both hashes run off the event loop,
    outside the transactions."""
    await env.limiter.hit("login_user", f"password-change|{caller.account_id}")
    now = env.clock()
    with env.db.read() as session:
        account = get_account(session, caller.account_id)
    if not await off_loop(verify_password, account.password_hash, current):
        with env.db.write() as session:
            audit.record(session, ctx, caller=caller, action="password.change", when=now,
                         outcome="denied", code="wrong_password",
                         target=f"account:{account.id}")
        raise InvalidInput("That is not your current password.", code="wrong_password")
    password_policy.check(password, user_inputs=(account.name, account.email))
    password_hash = await off_loop(hash_password, password)
    with env.db.write() as session:
        row = get_account(session, account.id)
        ended = _set(session, row, password_hash, now=now, keep=session_id)
        audit.record(session, ctx, caller=caller, action="password.change", when=now,
                     target=f"account:{row.id}", details={"sessions_ended": ended})
    return ended


def _set(session: Session, account: Account, password_hash: str, *, now: datetime,
         keep: str | None) -> int:
    account.password_hash = password_hash
    account.password_changed_at = now
    return sessions.end_account_sessions(session, account_id=account.id, keep=keep)
