"""The change journal: every RRset change of every zone, in order, in ``zone_changes``.

It is the one record of what changed, read by:

* the DNS server, which reads a built-in zone's journal forward from the last
  entry it applied (``dnsserver/store.py``), and answers IXFR from it;
* the history API and undo (``services/history.py``);
* the ownership rules' "who wrote this RRset" (``services/rrset_writers.py``).

Each zone counts its entries without gaps (``seq``, the zone's newest + 1):
writers of a zone hold its lock (SQLite's write lock, PostgreSQL's advisory
lock), so the order of the numbers is the order of the changes. A
reader that has applied entry ``n`` and is handed ``n + 2`` knows it missed
one. For the built-in backend the entries are written in the transaction that
changes the zone; for a provider, right after it confirmed the change.

After the commit the entries are also handed to this process's commit hooks
(``tx.info[APPENDED]``), and on PostgreSQL a ``NOTIFY`` on ``CHANNEL`` (sent
by the database at commit) wakes the DNS servers of the other nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dnsgate.db.models import ZoneChange as Row
from dnsgate.db.raw import Executor, Raw
from dnsgate.domain.records import RRset

#: The ``tx.info`` key of what a transaction appended (a list of ``Appended``).
APPENDED = "dnsgate.journal.appended"
#: The PostgreSQL channel whose payload is ``"<zone>"`` of a built-in zone that changed.
CHANNEL = "dnsgate_journal"

RRsetValue = dict[str, Any]  # {"ttl": int, "records": [str, ...]}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, and through which surface and request."""

    actor_type: str
    actor_id: str
    account_id: int | None
    realm_id: int | None
    surface: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Step:
    """One RRset's change: its state before (None: absent) and after."""

    name: str
    rtype: str
    old: RRset | None
    new: RRset | None
    old_known: bool = True


@dataclass(frozen=True, slots=True)
class Appended:
    """What one transaction added to one zone's journal (for the commit hooks)."""

    zone_id: int
    zone: str
    first_seq: int
    last_seq: int
    serial: int | None
    steps: tuple[Step, ...]
    builtin: bool


@dataclass(frozen=True, slots=True)
class Entry:
    """A journal entry as read back."""

    id: int
    zone_id: int
    seq: int
    name: str
    rtype: str
    old: RRset | None
    new: RRset | None
    old_known: bool
    actor_type: str
    actor_id: str
    account_id: int | None
    realm_id: int | None
    surface: str
    request_id: str | None
    time: datetime
    serial: int | None


def value_of(rrset: RRset | None) -> RRsetValue | None:
    """An RRset as the journal stores it: TTL and records, no name or type."""
    return None if rrset is None else {"ttl": rrset.ttl, "records": list(rrset.records)}


def rrset_of(name: str, rtype: str, value: RRsetValue | None) -> RRset | None:
    if value is None:
        return None
    return RRset(name, rtype, int(value["ttl"]), tuple(value["records"]))


# Hand-written SQL: these run on every record change (see db/raw.py). The
# number is the zone's newest + 1, found through the (zone_id, seq) index: one
# statement, and no counter row to rewrite (a zone row UPDATE cost ~15 us per
# PUT, bench/README.md). Writers of a zone hold its lock, so two never take one
# number; the unique index would refuse it if they did.
_INSERT = """
INSERT INTO zone_changes (zone_id, seq, name, rtype, old, new, old_known, actor_type,
                          actor_id, account_id, realm_id, surface, request_id, time, serial)
SELECT :zone_id, COALESCE(MAX(seq), 0) + 1, :name, :rtype, :old, :new, :old_known,
       :actor_type, :actor_id, :account_id, :realm_id, :surface, :request_id, :time, :serial
FROM zone_changes WHERE zone_id = :zone_id
RETURNING seq
"""
_NOTIFY = "SELECT pg_notify(:channel, :payload)"


def append(session: Executor, *, zone_id: int, zone: str, steps: Sequence[Step],
           actor: Actor, when: datetime, serial: int | None, builtin: bool) -> Appended | None:
    """Append ``steps`` to the zone's journal in the caller's transaction, which
    must hold the zone's lock. Nothing for no steps."""
    if not steps:
        return None
    raw = Raw.of(session)
    time = raw.time_in(when)
    seqs = [raw.execute(session, _INSERT, {
        "zone_id": zone_id, "name": step.name, "rtype": step.rtype,
        "old": raw.json_in(value_of(step.old)), "new": raw.json_in(value_of(step.new)),
        "old_known": step.old_known, "actor_type": actor.actor_type,
        "actor_id": actor.actor_id, "account_id": actor.account_id,
        "realm_id": actor.realm_id, "surface": actor.surface,
        "request_id": actor.request_id, "time": time, "serial": serial}).fetchone()[0]
        for step in steps]
    if builtin and not raw.is_sqlite:
        raw.execute(session, _NOTIFY, {"channel": CHANNEL, "payload": zone})
    appended = Appended(zone_id, zone, seqs[0], seqs[-1], serial, tuple(steps), builtin)
    session.info.setdefault(APPENDED, []).append(appended)
    return appended


def _entry(row: Row) -> Entry:
    return Entry(row.id, row.zone_id, row.seq, row.name, row.rtype,
                 rrset_of(row.name, row.rtype, row.old), rrset_of(row.name, row.rtype, row.new),
                 row.old_known, row.actor_type, row.actor_id, row.account_id, row.realm_id,
                 row.surface, row.request_id, row.time, row.serial)


_FORWARD = """
SELECT id, zone_id, seq, name, rtype, old, new, old_known, actor_type, actor_id, account_id,
       realm_id, surface, request_id, time, serial
FROM zone_changes WHERE zone_id = :zone_id AND seq > :after ORDER BY seq
"""


def read_forward(session: Executor, zone_id: int, after: int) -> list[Entry]:
    """The zone's entries after sequence number ``after``, oldest first.

    Hand-written SQL: the DNS server reads this after every other worker's
    change (the ORM cost ~30 us more per entry)."""
    raw = Raw.of(session)
    out = []
    for (entry_id, zone, seq, name, rtype, old, new, old_known, actor_type, actor_id,
         account_id, realm_id, surface, request_id, time, serial) in raw.execute(
            session, _FORWARD, {"zone_id": zone_id, "after": after}).fetchall():
        out.append(Entry(entry_id, zone, seq, name, rtype,
                         rrset_of(name, rtype, raw.json_out(old)),
                         rrset_of(name, rtype, raw.json_out(new)), bool(old_known),
                         actor_type, actor_id, account_id, realm_id, surface, request_id,
                         cast(datetime, raw.time_out(time)), serial))  # NOT NULL
    return out


def history(session: Session, zone_id: int, *, name: str | None = None,
            rtype: str | None = None, before: int | None = None,
            limit: int = 100) -> list[Entry]:
    """The zone's entries, newest first: of one RRset or name if given, older
    than entry id ``before`` if given."""
    query = select(Row).where(Row.zone_id == zone_id)
    if name is not None:
        query = query.where(Row.name == name)
    if rtype is not None:
        query = query.where(Row.rtype == rtype)
    if before is not None:
        query = query.where(Row.id < before)
    return [_entry(row) for row in session.scalars(query.order_by(Row.id.desc()).limit(limit))]


def entry(session: Session, zone_id: int, entry_id: int) -> Entry | None:
    row = session.scalar(select(Row).where(Row.zone_id == zone_id, Row.id == entry_id))
    return None if row is None else _entry(row)


def of_request(session: Session, zone_id: int, request_id: str) -> list[Entry]:
    """The entries one request made in the zone, oldest first."""
    rows = session.scalars(select(Row).where(Row.zone_id == zone_id,
                                             Row.request_id == request_id).order_by(Row.seq))
    return [_entry(row) for row in rows]


def last_writes(session: Session, zone_id: int,
                keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Entry]:
    """The newest entry of each RRset in ``keys`` that has one."""
    found: dict[tuple[str, str], Entry] = {}
    names = sorted({name for name, _ in keys})
    wanted = set(keys)
    for start in range(0, len(names), 500):  # keeps the IN list within every database's limits
        rows = session.scalars(select(Row).where(
            Row.zone_id == zone_id, Row.name.in_(names[start:start + 500]))
            .order_by(Row.seq.desc()))
        for row in rows:
            key = (row.name, row.rtype)
            if key in wanted and key not in found:
                found[key] = _entry(row)
    return found


def deltas(session: Session, zone_id: int, since_serial: int) -> list[Entry] | None:
    """The entries after the change that produced SOA serial ``since_serial``,
    oldest first (for IXFR); None when the journal no longer reaches back there."""
    start = session.scalar(select(func.max(Row.seq)).where(Row.zone_id == zone_id,
                                                           Row.serial == since_serial))
    if start is None:
        return None
    return read_forward(session, zone_id, start)


def prune(session: Session, zone_id: int, *, now: datetime, keep_days: int,
          keep_count: int) -> int:
    """Delete the zone's entries older than ``keep_days`` beyond its newest
    ``keep_count``: both promises hold (an entry goes only when it is too old
    AND not among the newest). Returns how many went."""
    newest = session.scalar(select(func.max(Row.seq)).where(Row.zone_id == zone_id))
    if newest is None:
        return 0
    result = session.execute(delete(Row).where(
        Row.zone_id == zone_id, Row.seq <= newest - keep_count,
        Row.time < now - timedelta(days=keep_days)))
    return int(getattr(result, "rowcount", 0) or 0)
