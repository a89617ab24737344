"""The DNS server's live copy of the built-in zones.

Changes reach it two ways:

* in this process, from the transaction that made them: the built-in backend
  leaves a ``ZoneChange`` in the session, and right after the commit, on the
  committing thread, ``apply()`` stages each changed RRset in the zone's view
  before the API call returns (a dict entry; the records are built before the
  next answer, see ``ZoneView.stage``), not a reload of the zone;
* from the other workers of ``serve --workers``: through the relay
  (``relay.py``), read before the next answer and applied the same way;
* from other processes (the CLI, another node): ``poll()`` compares the
  serials in the database with the views' and reloads a zone that moved.

Threads: committing threads stage changes and the DNS server's thread answers,
both under ``lock`` (``reading()``), so an answer sees one version of a zone.
Staging on the committing thread is what keeps the DNS server cheap for the
API: handing each change to the DNS thread to apply cost the API ~0.1 ms per
write in GIL hand-offs, and building the records on the committing thread
~0.05 ms (bench/README.md). Whole-zone reloads (a zone created or deleted, a
change made by another process) read the database, which can take seconds for
a large zone: they run on the DNS server's thread (``sync()``), never on a
committing one.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import dns.name
from sqlalchemy import select

from dnsgate.backends.builtin import BuiltinBackend, ZoneChange
from dnsgate.db.engine import Database
from dnsgate.db.models import BuiltinZone
from dnsgate.dnsserver.relay import RelayReceiver
from dnsgate.dnsserver.zoneview import Name, ZoneView, build

Listener = Callable[[str], None]


@functools.lru_cache(maxsize=4096)
def origin_of(zone: str) -> Name:
    """A zone's name as dnspython's Name (parsed once per zone, not per change)."""
    return dns.name.from_text(zone)


class ZoneStore:
    """Zone views by origin, kept current with the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = threading.RLock()
        self._views: dict[Name, ZoneView] = {}
        # Views with staged changes (``ZoneView.stage``), built before the next answer.
        self._unsettled: set[ZoneView] = set()
        # Zones to reload on the DNS server's thread (dict: ordered, no repeats).
        self._reloads: dict[str, None] = {}
        # Changes committed while a zone was being reloaded, to replay on the
        # new view: its database read may have been earlier than they were.
        self._replay: dict[str, list[ZoneChange]] = {}
        # The newest serial each zone has reached by this process's own commits,
        # so the poll does not mistake them (in flight to ``apply``) for others'.
        self._local_serials: dict[str, int] = {}
        # Serials seen unexplained at the last poll, by zone: reloaded at the
        # next poll unless this process's own commits explain them by then.
        self._suspects: dict[str, int] = {}
        self.loop: asyncio.AbstractEventLoop | None = None  # set while serving
        self._listeners: list[Listener] = []
        self._backend = BuiltinBackend(db)
        # Other workers' changes (``serve --workers``), read before each answer.
        self.relay: RelayReceiver | None = None

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

    def sync(self) -> None:
        """Take in what other workers committed, and run the reloads committed
        changes asked for (on the DNS server's thread, before answering: a new
        zone is answered at once)."""
        relay = self.relay
        if relay is not None and relay.behind():
            relay.catch_up()
        while self._reloads:
            with self.lock:
                zone = next(iter(self._reloads))
                del self._reloads[zone]
            self._reload(zone)
            self._notify(zone)

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(zone)`` after a zone changed (cache flush, NOTIFY).

        Listeners run on the thread that made the change, under ``lock``.
        """
        self._listeners.append(listener)

    def load_all(self) -> None:
        with self.db.read() as session:
            zones = list(session.scalars(select(BuiltinZone.name)))
        with self.lock:
            self._views = {}
            self._reloads.clear()
        for zone in zones:
            self._reload(zone)

    def poll(self) -> list[str]:
        """Reload zones whose serial in the database differs from ours on two
        polls in a row (this process's own commits reach the views through
        ``apply()`` a moment after they are visible in the database)."""
        self.sync()
        # What we know, taken before the database is read: committing threads
        # move it on meanwhile, and a serial of ours newer than the read would
        # look like another process going back.
        known: dict[str, tuple[ZoneView, int, int]] = {}
        with self.lock:
            for origin, view in self._views.items():
                zone = origin.to_text(omit_final_dot=True)
                known[zone] = (view, view.serial, self._local_serials.get(zone, 0))
        with self.db.read() as session:
            current = {name: serial for name, serial in
                       session.execute(select(BuiltinZone.name, BuiltinZone.serial))}
        changed: list[str] = []
        for zone, serial in current.items():
            if zone in known:
                view, ours, local = known[zone]
                if serial == ours or ours < serial <= local:
                    self._suspects.pop(zone, None)
                    continue
                seen = self._suspects.get(zone)
                newest = max(view.serial, self._local_serials.get(zone, 0))
                if serial > ours and (seen is None or seen <= newest):
                    # Maybe our own commit, whose hook has not run yet (or the one
                    # seen last time was): a reload of a big zone is costly, look
                    # again first.
                    self._suspects[zone] = serial
                    continue
            self._suspects.pop(zone, None)
            self._reload(zone)
            changed.append(zone)
        gone = set(known) - set(current)  # only this thread adds or drops views
        for zone in gone:
            with self.lock:
                self._views.pop(origin_of(zone), None)
            changed.append(zone)
        for zone in changed:
            self._notify(zone)
        return changed

    def apply(self, changes: Iterable[ZoneChange]) -> None:
        """Put this process's committed changes into the views (any thread).

        A change the view cannot take in place (a zone created or deleted, or
        one whose previous serial is not the view's: another process wrote in
        between) asks the DNS server's thread for a reload instead; when not
        serving (a script, a test) the reload runs here and now.
        """
        with self.lock:
            for change in changes:
                zone = change.zone
                self._local_serials[zone] = max(change.serial,
                                                self._local_serials.get(zone, 0))
                replay = self._replay.get(zone)
                if replay is not None:
                    replay.append(change)
                view = self._views.get(origin_of(zone))
                if change.changes is None or view is None:
                    self._reloads[zone] = None  # created or deleted
                elif view.serial < change.serial and not self._apply_in_place(view, change):
                    self._reloads[zone] = None  # a step missed: another process wrote
                # (a change the view's serial already covers came in with a reload)
        if self._reloads and self.loop is None:
            self.sync()

    def reload_later(self, zones: Iterable[str]) -> None:
        """Reload these zones from the database on the DNS server's thread (now,
        when not serving): a change could not be applied in place."""
        with self.lock:
            for zone in zones:
                self._reloads[zone] = None
        if self._reloads and self.loop is None:
            self.sync()

    def _apply_in_place(self, view: ZoneView, change: ZoneChange) -> bool:
        """Apply one change to ``view`` under the lock; False if it does not
        follow on from the view's serial (or replaces the zone) and needs a reload."""
        if change.changes is None or view.serial != change.previous_serial:
            return False
        for item in change.changes:
            view.stage(item)
        view.serial = change.serial
        self._unsettled.add(view)
        self._notify(change.zone)
        return True

    def _reload(self, zone: str) -> None:
        """Read the zone from the database into a new view, outside the lock;
        changes committed meanwhile are replayed on it before it goes live."""
        origin = origin_of(zone)
        with self.lock:
            self._replay[zone] = []
        view: ZoneView | None = None
        try:
            with self.db.read() as session:
                if self._backend.has_zone_in(session, zone):
                    view = build(zone, self._backend.read_in(session, zone))
        finally:
            with self.lock:
                meanwhile = self._replay.pop(zone, [])
                if view is None:
                    self._views.pop(origin, None)
                else:
                    for change in meanwhile:
                        if change.serial > view.serial and not self._apply_in_place(view, change):
                            self._reloads[zone] = None  # a step we cannot replay: again
                            break
                    self._views[origin] = view
                    self._unsettled.add(view)

    def _notify(self, zone: str) -> None:
        for listener in self._listeners:
            listener(zone)
