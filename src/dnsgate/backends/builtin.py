"""The built-in backend: zones and RRsets in dnsgate's own database.

It is transactional: the records service calls ``read_in``/``apply_in`` inside
the same transaction that authorizes the change and writes its audit event,
so a batch is atomic and a failure leaves the zone exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select
from sqlalchemy.orm import Session

from dnsgate.backends.base import Capabilities, Health, ZoneDefaults
from dnsgate.db import journal
from dnsgate.db.engine import Database, zone_lock_key
from dnsgate.db.models import BuiltinRRset, BuiltinZone, table_of
from dnsgate.db.raw import Executor, Raw
from dnsgate.domain.errors import ZoneNotFound
from dnsgate.domain.records import Change, RRset, Upsert

_Z = table_of(BuiltinZone)
_R = table_of(BuiltinRRset)
Clock = Callable[[], datetime]


#: The ``session.info`` key of the built-in zones a transaction created or
#: deleted (a list of names): the DNS server loads or drops them whole. Changes
#: of their RRsets reach it through the change journal (db/journal.py).
ZONES_REPLACED = "dnsgate.builtin.zones_replaced"


def _replaced(session: Executor, zone: str) -> None:
    session.info.setdefault(ZONES_REPLACED, []).append(zone)
    raw = Raw.of(session)
    if not raw.is_sqlite:  # other nodes' DNS servers: sent by PostgreSQL at commit
        raw.execute(session, "SELECT pg_notify(:channel, :payload)",
                    {"channel": journal.CHANNEL, "payload": zone})


# Hand-written SQL: these run on every record change (see db/raw.py).
_ZONE_SQL = """
SELECT id, serial, primary_ns, hostmaster, refresh, retry, expire, minimum, soa_ttl
FROM builtin_zones WHERE name = :zone
"""
_SERIAL_SQL = "SELECT id, serial FROM builtin_zones WHERE name = :zone"
_BUMP_SQL = "UPDATE builtin_zones SET serial = :serial WHERE id = :zone_id"
_UPSERT_SQL = """
INSERT INTO builtin_rrsets (zone_id, name, rtype, ttl, records)
VALUES (:zone_id, :name, :rtype, :ttl, :records)
ON CONFLICT (zone_id, name, rtype) DO UPDATE SET ttl = excluded.ttl, records = excluded.records
"""
_DELETE_SQL = """
DELETE FROM builtin_rrsets WHERE zone_id = :zone_id AND name = :name AND rtype = :rtype
"""
_SELECT_RRSETS = "SELECT name, rtype, ttl, records FROM builtin_rrsets WHERE zone_id = :zone_id"
_ORDER = " ORDER BY name, rtype"
_RRSETS_SQL = {  # keyed by (name given, type given)
    (False, False): _SELECT_RRSETS + _ORDER,
    (True, False): _SELECT_RRSETS + " AND name = :name" + _ORDER,
    (False, True): _SELECT_RRSETS + " AND rtype = :rtype" + _ORDER,
    (True, True): _SELECT_RRSETS + " AND name = :name AND rtype = :rtype" + _ORDER,
}


def next_serial(old: int, today: datetime) -> int:
    """The next YYYYMMDDnn serial: today's first if the old one is older,
    otherwise old + 1 (so it always increases, RFC 1982)."""
    base = (today.year * 10_000 + today.month * 100 + today.day) * 100
    return max(old + 1, base)


class BuiltinBackend:
    """Zones held in the gateway's database (SQLite or PostgreSQL)."""

    provider = "builtin"
    capabilities = Capabilities(list_zones=True, create_zones=True, atomic_batches=True,
                                transactional=True)

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self.db = db
        self._clock = clock or (lambda: datetime.now(UTC))

    async def check(self) -> Health:
        ok = self.db.ping()
        return Health(ok, "database reachable" if ok else "database unreachable", self._clock())

    async def zones(self) -> list[str]:
        with self.db.read() as session:
            return list(session.scalars(select(_Z.c.name).order_by(_Z.c.name)))

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]:
        with self.db.read() as session:
            return self.read_in(session, zone, name, rtype)

    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        """Write without a journal entry: the DNS server and IXFR do not see it
        until the zone is read whole. Changes of accounts go through the
        records service (``apply_in`` and the journal); this is for fixtures
        and data the store holds for itself (e.g. a DNSKEY)."""
        with self.db.write() as session:
            self.db.lock(session, zone_lock_key(zone))
            self.apply_in(session, zone, changes)

    def read_in(self, session: Executor, zone: str, name: str | None = None,
                rtype: str | None = None) -> list[RRset]:
        """RRsets of ``zone`` (optionally one name and/or type), SOA included."""
        raw = Raw.of(session)
        row = raw.execute(session, _ZONE_SQL, {"zone": zone}).fetchone()
        if row is None:
            raise ZoneNotFound(f"zone {zone} is not in the built-in store")
        zone_id, serial, primary_ns, hostmaster, refresh, retry, expire, minimum, soa_ttl = row
        out: list[RRset] = []
        if (name is None or name == zone) and rtype in (None, "SOA"):
            out.append(RRset(zone, "SOA", soa_ttl, (
                f"{primary_ns}. {hostmaster}. {serial} {refresh} {retry} {expire} {minimum}",)))
        sql = _RRSETS_SQL[(name is not None, rtype is not None)]
        params = {"zone_id": zone_id, "name": name, "rtype": rtype}
        for owner, rdtype, ttl, records in raw.execute(session, sql, params).fetchall():
            out.append(RRset(owner, rdtype, ttl, tuple(raw.json_out(records))))
        return out

    def apply_in(self, session: Executor, zone: str, changes: Sequence[Change]) -> int | None:
        """Apply a change set and bump the SOA serial once; the new serial (None:
        no changes, nothing done). The caller journals the change (the records
        service): the DNS server learns of it from the journal."""
        if not changes:
            return None
        raw = Raw.of(session)
        row = raw.execute(session, _SERIAL_SQL, {"zone": zone}).fetchone()
        if row is None:
            raise ZoneNotFound(f"zone {zone} is not in the built-in store")
        zone_id, old_serial = row
        for change in changes:
            if isinstance(change, Upsert):
                rr = change.rrset
                raw.execute(session, _UPSERT_SQL, {
                    "zone_id": zone_id, "name": rr.name, "rtype": rr.type, "ttl": rr.ttl,
                    "records": raw.json_in(list(rr.records))})
            else:
                raw.execute(session, _DELETE_SQL, {
                    "zone_id": zone_id, "name": change.name, "rtype": change.type})
        serial = next_serial(old_serial, self._clock())
        raw.execute(session, _BUMP_SQL, {"zone_id": zone_id, "serial": serial})
        return serial

    def create_zone_in(self, session: Session, zone: str, defaults: ZoneDefaults) -> None:
        """Create an empty zone with SOA and NS from ``defaults``."""
        serial = next_serial(0, self._clock())
        created = session.execute(insert(_Z).values(
            name=zone, serial=serial, primary_ns=defaults.nameservers[0],
            hostmaster=defaults.hostmaster, soa_ttl=defaults.ttl, created_at=self._clock()))
        zone_id = cast(CursorResult[Any], created).inserted_primary_key[0]  # type: ignore[index]
        session.execute(insert(_R).values(
            zone_id=zone_id, name=zone, rtype="NS", ttl=defaults.ttl,
            records=[f"{ns}." for ns in defaults.nameservers]))
        _replaced(session, zone)

    def has_zone_in(self, session: Session, zone: str) -> bool:
        return session.execute(select(_Z.c.id).where(_Z.c.name == zone)).first() is not None

    async def create_zone(self, zone: str, defaults: ZoneDefaults) -> None:
        with self.db.write() as session:
            self.create_zone_in(session, zone, defaults)

    async def delete_zone(self, zone: str) -> None:
        with self.db.write() as session:
            session.execute(delete(_Z).where(_Z.c.name == zone))
            _replaced(session, zone)
