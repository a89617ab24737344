"""Who last wrote an RRset through dnsgate, for the claim rules and the approval page.

Read from the change journal (``db/journal.py``): the newest entry of an
RRset names its writer. An RRset with no entry, or whose newest entry
deleted it, was written outside dnsgate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.db import journal
from dnsgate.db.models import Account, Realm
from dnsgate.domain.claims import FoundRRset, Writer
from dnsgate.domain.records import RRset


def last_writers(session: Session, *, zone_id: int, claimant_id: int,
                 rrsets: Sequence[RRset]) -> list[FoundRRset]:
    """Each RRset with who last wrote it, as seen from the claimant."""
    last = journal.last_writes(session, zone_id, [(rr.name, rr.type) for rr in rrsets])
    admins = _admin_ids(session, {entry.account_id for entry in last.values()})
    found = []
    for rr in sorted(rrsets, key=lambda r: (r.name, r.type)):
        writer = _writer(last.get((rr.name, rr.type)), claimant_id, admins)
        found.append(FoundRRset(rr.name, rr.type, writer))
    return found


def _writer(entry: journal.Entry | None, claimant_id: int, admins: set[int]) -> Writer:
    if entry is None or entry.new is None:
        return Writer("outside")
    if entry.actor_type == "system" or (entry.account_id in admins
                                        and entry.actor_type != "token"):
        return Writer("operator", account_id=entry.account_id)
    if entry.account_id == claimant_id:
        return Writer("self", account_id=claimant_id)
    return Writer("account", account_id=entry.account_id, realm_id=entry.realm_id)


def _admin_ids(session: Session, ids: Iterable[int | None]) -> set[int]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return set()
    return set(session.scalars(select(Account.id).where(
        Account.id.in_(wanted), Account.role == "admin")))


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
