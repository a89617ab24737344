"""Deleting an account and everything that is its own.

``deletion_plan`` is what the admin sees first; ``delete_account`` removes
exactly that in one transaction: tokens, realms, grants, API keys, web
sessions, the backends the account brought (bring your own DNS) and the
zones offered through them (with any realms, grants and tokens in those
zones), then the account. Rows that only point at the account as history
(audit events, "decided by", invites) keep it or are set to NULL by their
foreign keys. DNS records already published at a provider stay there: dnsgate
stops handing out access, it does not rewrite zones behind an admin's back.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, ApiKey, Backend, Grant, Realm, Token, WebSession, Zone
from dnsgate.services import audit
from dnsgate.services.account_holdings import Holdings, read_holdings
from dnsgate.services.accounts import lockout
from dnsgate.services.context import Caller, Env, RequestContext


def deletion_plan(env: Env, *, caller: Caller | None, account_id: int
                  ) -> tuple[Holdings, str | None]:
    """What deleting the account would remove, and why it may not be deleted (or None)."""
    with env.db.read() as session:
        held = read_holdings(session, account_id, env.clock())
        refusal = lockout(session, caller, held.account, "delete")
    return held, refusal.message if refusal else None


async def delete_account(env: Env, ctx: RequestContext, *, caller: Caller | None,
                         account_id: int) -> Holdings:
    """Delete the account with what it holds; returns what was removed.

    Refused (Conflict, audited) for an admin's own account and the last active admin.
    """
    now = env.clock()
    with env.db.write() as session:
        held = read_holdings(session, account_id, now)
        account = held.account
        refusal = lockout(session, caller, account, "delete")
        backend_ids: list[int] = []
        if refusal is None:
            backend_ids = list(session.scalars(select(Backend.id).where(
                Backend.owner_account_id == account_id)))
            _delete_rows(session, account_id, backend_ids)
        audit.record(session, ctx, caller=caller, action="account.delete", when=now,
                     target=f"account:{account_id}", outcome="denied" if refusal else "success",
                     code=refusal.code if refusal else "ok",
                     details={"name": account.name, "role": account.role,
                              **_summary(held)})
    if refusal is not None:
        raise refusal
    for backend_id in backend_ids:  # drop cached adapters holding their credentials
        await env.backends.forget(backend_id)
    return held


def _delete_rows(session: Session, account_id: int, backend_ids: list[int]) -> None:
    """Children before parents, so no foreign key (or its absence) decides anything."""
    zone_ids = list(session.scalars(select(Zone.id).where(Zone.backend_id.in_(backend_ids))))
    realm_ids = select(Realm.id).where(
        (Realm.account_id == account_id) | Realm.zone_id.in_(zone_ids))
    session.execute(delete(Token).where(
        (Token.account_id == account_id) | Token.realm_id.in_(realm_ids)))
    session.execute(delete(Realm).where(
        (Realm.account_id == account_id) | Realm.zone_id.in_(zone_ids)))
    session.execute(delete(Grant).where(
        (Grant.account_id == account_id) | Grant.zone_id.in_(zone_ids)))
    session.execute(delete(Zone).where(Zone.id.in_(zone_ids)))
    session.execute(delete(Backend).where(Backend.id.in_(backend_ids)))
    session.execute(delete(ApiKey).where(ApiKey.account_id == account_id))
    session.execute(delete(WebSession).where(WebSession.account_id == account_id))
    session.execute(delete(Account).where(Account.id == account_id))


def _summary(held: Holdings) -> dict[str, object]:
    """Names, ids and counts for the audit event. The keys avoid the words the
    audit masker hides ("token", "key"): these are public ids and counts, not secrets."""
    return {"realms": [r.name for r in held.realms], "machine_ids": [t.id for t in held.tokens],
            "management_logins": held.api_keys, "sessions": held.sessions,
            "grants": held.grants, "backends": held.backends,
            "backend_zones": held.backend_zones}
