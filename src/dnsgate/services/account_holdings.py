"""What an account holds: the admin's account page and the delete preview read it.

One read for both, so the preview of a deletion lists exactly what
``account_deletion.delete_account`` removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, ApiKey, Backend, Grant, Realm, Token, WebSession, Zone
from dnsgate.domain.lifetime import status_of
from dnsgate.services.accounts import get_account
from dnsgate.services.context import Env


@dataclass(frozen=True, slots=True)
class RealmHeld:
    id: int
    name: str
    zone: str
    kind: str
    status: str


@dataclass(frozen=True, slots=True)
class TokenHeld:
    id: str
    name: str
    realm: str
    status: str  # active | expired | revoked
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Holdings:
    """An account and everything that is its own (zone grants included)."""

    account: Account
    realms: list[RealmHeld]
    tokens: list[TokenHeld]
    api_keys: int
    sessions: int
    grants: list[str]  # zone names
    backends: list[str]  # backend names it owns (bring your own DNS)
    backend_zones: list[str]  # zones offered through those backends

    @property
    def two_factor(self) -> bool:
        return self.account.totp_enabled_at is not None

    @property
    def email_verified(self) -> bool:
        return self.account.email_verified_at is not None


def _count(session: Session, model: type[ApiKey] | type[WebSession], account_id: int) -> int:
    return session.scalar(select(func.count()).select_from(model).where(
        model.account_id == account_id)) or 0


def read_holdings(session: Session, account_id: int, now: datetime) -> Holdings:
    """The account (NotFound if there is none) with what it holds."""
    account = get_account(session, account_id)
    realm_rows = session.execute(
        select(Realm, Zone.name).join(Zone, Zone.id == Realm.zone_id)
        .where(Realm.account_id == account_id).order_by(Zone.name, Realm.name)).all()
    realm_names = {realm.id: realm.name for realm, _ in realm_rows}
    token_rows = session.scalars(select(Token).where(Token.account_id == account_id)
                                 .order_by(Token.created_at.desc())).all()
    backend_rows = session.execute(select(Backend.id, Backend.name).where(
        Backend.owner_account_id == account_id).order_by(Backend.name)).all()
    backend_ids = [row.id for row in backend_rows]
    return Holdings(
        account=account,
        realms=[RealmHeld(r.id, r.name, zone, r.kind, r.status) for r, zone in realm_rows],
        tokens=[TokenHeld(t.id, t.name, realm_names.get(t.realm_id, "?"), status_of(t, now),
                          t.last_used_at) for t in token_rows],
        api_keys=_count(session, ApiKey, account_id),
        sessions=_count(session, WebSession, account_id),
        grants=list(session.scalars(
            select(Zone.name).join(Grant, Grant.zone_id == Zone.id)
            .where(Grant.account_id == account_id).order_by(Zone.name))),
        backends=[row.name for row in backend_rows],
        backend_zones=list(session.scalars(
            select(Zone.name).where(Zone.backend_id.in_(backend_ids)).order_by(Zone.name)))
        if backend_ids else [],
    )


def holdings(env: Env, account_id: int) -> Holdings:
    with env.db.read() as session:
        return read_holdings(session, account_id, env.clock())
