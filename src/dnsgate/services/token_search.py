"""Finding tokens across accounts, for the admin console: by token id, owner
name or realm name, with what a person needs to decide to revoke one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dnsgate.db.models import Account, Realm, Token, Zone
from dnsgate.domain.lifetime import status_of
from dnsgate.services.context import Env

LIMIT = 200


@dataclass(frozen=True, slots=True)
class TokenRow:
    token: Token
    owner: str
    realm: str
    zone: str
    status: str  # active | expired | revoked


def search_tokens(env: Env, query: str = "", *, limit: int = LIMIT) -> list[TokenRow]:
    """Newest first. ``query`` matches the start of a token id (``dg_<id>`` as
    shown, or the id alone), or part of the owner's or the realm's name."""
    text = query.strip().lower()
    if text.startswith("dg_"):
        text = text[3:].split("_")[0]  # the id as a token starts: dg_<id>_...
    stmt = (select(Token, Account.name, Realm.name, Zone.name)
            .join(Account, Account.id == Token.account_id)
            .join(Realm, Realm.id == Token.realm_id)
            .join(Zone, Zone.id == Realm.zone_id)
            .order_by(Token.created_at.desc(), Token.id).limit(limit))
    if text:
        stmt = stmt.where(Token.id.startswith(text, autoescape=True)
                          | Account.name.contains(text, autoescape=True)
                          | Realm.name.contains(text, autoescape=True))
    now = env.clock()
    with env.db.read() as session:
        return [TokenRow(token, owner, realm, zone, status_of(token, now))
                for token, owner, realm, zone in session.execute(stmt)]
