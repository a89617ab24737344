"""The DNS server's live copy of the built-in zones, kept current from the change journal.

Every view knows the journal sequence number it has applied (``ZoneView.seq``);
entries are numbered per zone without gaps (``db/journal.py``), so the store
always knows whether it is current and never guesses from serials. Changes
come in three ways, all of them journal entries:

* from this process, right after the commit that wrote them (``take``): an
  entry that follows on from the view is staged at once, on the committing
  thread, before the API call returns (a dict entry, built into records
  before the next answer: ``ZoneView.stage``);
* as a wake-up naming a zone (``want``): another worker of this node
  (``wakeups.py``), PostgreSQL's NOTIFY from another node (``listen.py``), an
  entry that did not follow on, or the slow poll; the DNS server's thread
  then reads the zone's journal forward from its view (``sync``), before it
  answers the next query;
* a zone created or deleted as a whole (``replaced``) is read whole.

Threads: committing threads stage changes and the DNS server's thread answers,
both under ``lock`` (``reading()``), so an answer sees one version of a zone.
Reads of the database (journal, whole zones) run on the DNS server's thread,
never on a committing one.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

import dns.name
from sqlalchemy import text

from dnsgate.backends.builtin import BuiltinBackend
from dnsgate.db import journal
from dnsgate.db.engine import Database
from dnsgate.dnsserver.zoneview import Name, ZoneView, build
from dnsgate.observability import metrics

Listener = Callable[[str], None]

# The built-in zones with their journal's key and newest entry (zone rows of
# the built-in backend; a zone made by hand in the store alone has none). The
# newest entry is one index seek per zone.
_ZONES_SQL = text("""
SELECT bz.name, z.id, (SELECT MAX(c.seq) FROM zone_changes c WHERE c.zone_id = z.id)
FROM builtin_zones bz LEFT JOIN zones z ON z.name = bz.name
 AND z.backend_id IN (SELECT id FROM backends WHERE provider = 'builtin')
""")
_ZONE_SQL = text("""
SELECT z.id, (SELECT MAX(c.seq) FROM zone_changes c WHERE c.zone_id = z.id)
FROM zones z JOIN backends b ON b.id = z.backend_id
WHERE z.name = :zone AND b.provider = 'builtin'
""")


class Wakeups(Protocol):
    """Zones other processes of this node changed, counted before their API answered."""

    def behind(self) -> bool: ...

    def drain(self) -> list[str]: ...


@functools.lru_cache(maxsize=4096)
def origin_of(zone: str) -> Name:
    """A zone's name as dnspython's Name (parsed once per zone, not per change)."""
    return dns.name.from_text(zone)


class ZoneStore:
    """Zone views by origin, kept current with the journal."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = threading.RLock()
        self._views: dict[Name, ZoneView] = {}
        # Views with staged changes (``ZoneView.stage``), built before the next answer.
        self._unsettled: set[ZoneView] = set()
        # Zones to bring up to date on the DNS server's thread (ordered, no repeats):
        # True reads the zone whole, False reads its journal forward.
        self._wanted: dict[str, bool] = {}
        self._ids: dict[str, int] = {}  # zone name -> its journal's key (zones.id)
        self.loop: asyncio.AbstractEventLoop | None = None  # set while serving
        self._listeners: list[Listener] = []
        self._backend = BuiltinBackend(db)
        self.wakeups: Wakeups | None = None  # other workers' changes (``serve --workers``)
        self.server_name = "dns"  # the label of this server's journal lag (metrics)

    @property
    def views(self) -> dict[Name, ZoneView]:
        """The zone views, with every committed change in them (for tests and
        single-threaded callers; the server reads inside ``reading()``)."""
        self.sync()
        with self.reading() as views:
            return views

    @contextmanager
    def reading(self) -> Iterator[dict[Name, ZoneView]]:
        """The views, unchanging and with current SOA records, for the block."""
        with self.lock:
            while self._unsettled:
                self._unsettled.pop().settle()
            yield self._views

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(zone)`` after a zone changed (cache flush, NOTIFY).

        Listeners run on the thread that made the change, under ``lock``.
        """
        self._listeners.append(listener)

    # --- what changed ----------------------------------------------------

    def take(self, appended: Iterable[journal.Appended]) -> None:
        """This process's committed journal entries (any thread, after the commit).

        Entries that follow on from a view go in now; others (a step missed:
        another process wrote in between, or a commit's hook overtook an
        earlier one's) send the DNS server's thread to the journal.
        """
        with self.lock:
            for item in appended:
                view = self._views.get(origin_of(item.zone))
                if view is None or view.seq >= item.last_seq:
                    if view is None:
                        self._wanted.setdefault(item.zone, True)
                    continue
                if view.seq != item.first_seq - 1:
                    self._wanted.setdefault(item.zone, False)
                    continue
                for step in item.steps:
                    view.stage(step.name, step.rtype, step.new)
                view.seq = item.last_seq
                if item.serial is not None:
                    view.serial = item.serial
                self._unsettled.add(view)
                self._notify(item.zone)
        self._sync_unless_serving()

    def want(self, zones: Iterable[str], *, whole: bool = False) -> None:
        """Bring these zones up to date from the database on the DNS server's
        thread (now, when not serving): read whole, or their journals forward."""
        with self.lock:
            for zone in zones:
                self._wanted[zone] = whole or self._wanted.get(zone, False)
        self._sync_unless_serving()

    def replaced(self, zones: Iterable[str]) -> None:
        """Zones created or deleted as a whole: read them whole."""
        self.want(zones, whole=True)

    def _sync_unless_serving(self) -> None:
        if self._wanted and self.loop is None:
            self.sync()

    # --- on the DNS server's thread --------------------------------------

    def sync(self) -> None:
        """Take in what other workers committed, then bring the wanted zones up
        to date (before answering: a change is answered once committed)."""
        wakeups = self.wakeups
        if wakeups is not None and wakeups.behind():
            self.want(wakeups.drain())
        while self._wanted:
            with self.lock:
                zone = next(iter(self._wanted))
                whole = self._wanted.pop(zone)
            if whole or not self._catch_up(zone):
                self._reload(zone)
            self._notify(zone)

    def load_all(self) -> None:
        with self.db.read() as session:
            zones = [row[0] for row in session.execute(_ZONES_SQL)]
        with self.lock:
            self._views = {}
            self._wanted.clear()
        for zone in zones:
            self._reload(zone)

    def poll(self) -> list[str]:
        """The slow fallback: compare every zone's newest journal entry with its
        view, and read what moved (a change whose wake-up was lost, a zone
        created or deleted by another process). Returns the zones read."""
        self.sync()
        with self.db.read() as session:
            current = {name: (zone_id, seq or 0)
                       for name, zone_id, seq in session.execute(_ZONES_SQL)}
        changed: list[str] = []
        with self.lock:
            known = {origin.to_text(omit_final_dot=True): view
                     for origin, view in self._views.items()}
        metrics.set_journal_lag(self.server_name, entries=sum(
            max(seq - known[zone].seq, 0) for zone, (_, seq) in current.items() if zone in known))
        for zone, (zone_id, seq) in current.items():
            view = known.get(zone)
            if view is None or self._ids.get(zone) != zone_id:
                changed.append(zone)
                self.want([zone], whole=True)
            elif view.seq < seq:
                changed.append(zone)
                self.want([zone])
        gone = [zone for zone in known if zone not in current]
        self.want(gone, whole=True)
        self.sync()
        return changed + gone

    def _catch_up(self, zone: str) -> bool:
        """Apply the zone's journal entries after its view's; False when only a
        whole read will do (no view, no journal, or entries pruned away)."""
        with self.lock:
            view = self._views.get(origin_of(zone))
        zone_id = self._ids.get(zone)
        if view is None or zone_id is None:
            return False
        with self.db.read() as session:
            entries = journal.read_forward(session, zone_id, view.seq)
        return self._apply_entries(zone, view, entries)

    def _apply_entries(self, zone: str, view: ZoneView, entries: Sequence[journal.Entry]) -> bool:
        with self.lock:
            pending = [entry for entry in entries if entry.seq > view.seq]
            if pending and pending[0].seq != view.seq + 1:
                return False  # pruned away since the view was read
            for entry in pending:
                view.stage(entry.name, entry.rtype, entry.new)
                view.seq = entry.seq
                if entry.serial is not None:
                    view.serial = max(view.serial, entry.serial)
            if pending:
                self._unsettled.add(view)
        if pending:
            metrics.set_journal_lag(self.server_name, seconds=(
                datetime.now(UTC) - pending[0].time).total_seconds())
        return True

    def _reload(self, zone: str) -> None:
        """Read the zone whole into a new view, outside the lock, then the
        journal entries committed meanwhile (entries hold whole RRsets, so one
        read twice changes nothing)."""
        origin = origin_of(zone)
        view: ZoneView | None = None
        zone_id: int | None = None
        with self.db.read() as session:
            row = session.execute(_ZONE_SQL, {"zone": zone}).first()
            if row is not None:
                zone_id = int(row[0])
            if self._backend.has_zone_in(session, zone):
                view = build(zone, self._backend.read_in(session, zone))
                view.seq = int(row[1] or 0) if row is not None else 0
        with self.lock:
            if view is None:
                self._views.pop(origin, None)
                self._ids.pop(zone, None)
                return
            if zone_id is None:
                self._ids.pop(zone, None)
            else:
                self._ids[zone] = zone_id
            self._views[origin] = view
            self._unsettled.add(view)
        if zone_id is not None and not self._catch_up(zone):
            with self.lock:
                self._wanted[zone] = True  # pruned in between: read again

    def journal_since(self, zone: str, serial: int) -> list[journal.Entry] | None:
        """The zone's journal after the change that made SOA serial ``serial``
        (for IXFR); None when it does not reach back there."""
        zone_id = self._ids.get(zone)
        if zone_id is None:
            return None
        with self.db.read() as session:
            return journal.deltas(session, zone_id, serial)

    def _notify(self, zone: str) -> None:
        for listener in self._listeners:
            listener(zone)
