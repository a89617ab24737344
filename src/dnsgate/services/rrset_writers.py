"""Who last wrote an RRset through dnsgate, for the claim rules and the approval page.

Read from the audit log, which records every applied change with its actor
(no extra write on the hot path). An RRset with no successful write on
record, or whose last recorded change deleted it, was written outside
dnsgate. (The change journal will answer this from ``zone_changes``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.db.models import Account, AuditEvent, Realm, Token
from dnsgate.domain.claims import FoundRRset, Writer
from dnsgate.domain.records import RRset

_WRITES = ("rrset.create", "rrset.update", "rrset.upsert", "rrset.delete")
_CHUNK = 500  # names per query: keeps the IN list within every database's limits


def last_writers(session: Session, *, zone: str, claimant_id: int,
                 rrsets: Sequence[RRset]) -> list[FoundRRset]:
    """Each RRset with who last wrote it, as seen from the claimant."""
    wanted = {(rr.name, rr.type) for rr in rrsets}
    last: dict[tuple[str, str], Any] = {}
    names = sorted({name for name, _ in wanted})
    for start in range(0, len(names), _CHUNK):
        rows = session.execute(
            select(AuditEvent.name, AuditEvent.rtype, AuditEvent.action,
                   AuditEvent.actor_type, AuditEvent.actor_id, AuditEvent.account_id)
            .where(AuditEvent.zone == zone, AuditEvent.outcome == "success",
                   AuditEvent.action.in_(_WRITES),
                   AuditEvent.name.in_(names[start:start + _CHUNK]))
            .order_by(AuditEvent.id.desc()))
        for event in rows:
            key = (event.name or "", event.rtype or "")
            if key in wanted and key not in last:
                last[key] = event
    admins = _admin_ids(session, {row.account_id for row in last.values()})
    realms = _token_realms(session, {row.actor_id for row in last.values()
                                     if row.actor_type == "token"})
    found = []
    for rr in sorted(rrsets, key=lambda r: (r.name, r.type)):
        writer = _writer(last.get((rr.name, rr.type)), claimant_id, admins, realms)
        found.append(FoundRRset(rr.name, rr.type, writer))
    return found


def _writer(row: Any, claimant_id: int, admins: set[int], realms: dict[str, int]) -> Writer:
    if row is None or row.action == "rrset.delete":
        return Writer("outside")
    if row.actor_type == "system" or (row.account_id in admins and row.actor_type != "token"):
        return Writer("operator", account_id=row.account_id)
    if row.account_id == claimant_id:
        return Writer("self", account_id=claimant_id)
    return Writer("account", account_id=row.account_id, realm_id=realms.get(row.actor_id))


def _admin_ids(session: Session, ids: Iterable[int | None]) -> set[int]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return set()
    return set(session.scalars(select(Account.id).where(
        Account.id.in_(wanted), Account.role == "admin")))


def _token_realms(session: Session, token_ids: set[str]) -> dict[str, int]:
    if not token_ids:
        return {}
    rows = session.execute(select(Token.id, Token.realm_id).where(Token.id.in_(token_ids)))
    return {row.id: row.realm_id for row in rows}


def describe(found: FoundRRset, account_names: dict[int, str],
             realm_names: dict[int, str]) -> str:
    """"written by the operator", "written by realm R of account A", or
    "written outside dnsgate": how the approval page names a writer."""
    writer = found.writer
    if writer.kind == "outside":
        return "written outside dnsgate"
    if writer.kind == "operator":
        return "written by the operator"
    who = account_names.get(writer.account_id or 0, f"#{writer.account_id}")
    if writer.realm_id is not None:
        realm = realm_names.get(writer.realm_id, f"#{writer.realm_id}")
        return f"written by realm {realm} of account {who}"
    return f"written by account {who}"


def handover_rows(session: Session, found: Sequence[FoundRRset]) -> list[dict[str, Any]]:
    """The RRsets a claim would take over, as stored on the pending realm."""
    account_ids = {f.writer.account_id for f in found if f.writer.account_id is not None}
    realm_ids = {f.writer.realm_id for f in found if f.writer.realm_id is not None}
    accounts = {row.id: row.name for row in session.execute(
        select(Account.id, Account.name).where(Account.id.in_(account_ids)))}
    realms = {row.id: row.name for row in session.execute(
        select(Realm.id, Realm.name).where(Realm.id.in_(realm_ids)))}
    return [{"name": f.name, "type": f.type, "writer": f.writer.kind,
             "account_id": f.writer.account_id, "realm_id": f.writer.realm_id,
             "written_by": describe(f, accounts, realms)} for f in found]
