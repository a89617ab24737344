"""The DNS server's live copy of the built-in zones.

Changes reach it two ways:

* in this process, from the transaction that made them: the built-in backend
  leaves a ``ZoneChange`` in the session, and after the commit the store
  applies it to the zone's view before the API call returns (one RRset costs
  O(labels), not a reload of the zone);
* from other processes (another worker, the CLI): ``poll()`` compares the
  serials in the database with the views' and reloads a zone that moved.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

import dns.name
import dns.rdatatype
from sqlalchemy import select

from dnsgate.backends.builtin import BuiltinBackend, ZoneChange
from dnsgate.db.engine import Database
from dnsgate.db.models import BuiltinZone
from dnsgate.dnsserver.zoneview import Name, ZoneView, build, to_rrset
from dnsgate.domain.records import Upsert

Listener = Callable[[str], None]


class ZoneStore:
    """Zone views by origin, kept current with the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._views: dict[Name, ZoneView] = {}
        # Filled by committing threads, emptied by the DNS server's loop: a deque
        # is safe for that without a lock.
        self._pending: deque[ZoneChange] = deque()
        # The newest serial each zone has reached by this process's own commits,
        # so the poll does not mistake them (in flight to the queue) for others'.
        self._local_serials: dict[str, int] = {}
        # Serials seen unexplained at the last poll, by zone: reloaded at the
        # next poll unless this process's own commits explain them by then.
        self._suspects: dict[str, int] = {}
        self.loop: asyncio.AbstractEventLoop | None = None  # set while serving
        self._listeners: list[Listener] = []
        self._backend = BuiltinBackend(db)

    @property
    def views(self) -> dict[Name, ZoneView]:
        """The zone views, with every committed change applied."""
        self.sync()
        return self._views

    def sync(self) -> None:
        """Apply pending changes now (before answering from views or caches)."""
        if self._pending:
            self._drain()

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(zone)`` after a zone changed (cache flush, NOTIFY)."""
        self._listeners.append(listener)

    def load_all(self) -> None:
        with self.db.read() as session:
            zones = list(session.scalars(select(BuiltinZone.name)))
        self._views = {}
        self._pending.clear()
        for zone in zones:
            self._reload(zone)

    def poll(self) -> list[str]:
        """Reload zones whose serial in the database differs from ours on two
        polls in a row (this process's own commits reach the views through
        ``apply()`` a moment after they are visible in the database)."""
        self._drain()
        with self.db.read() as session:
            current = {name: serial for name, serial in
                       session.execute(select(BuiltinZone.name, BuiltinZone.serial))}
        changed: list[str] = []
        for zone, serial in current.items():
            view = self._views.get(dns.name.from_text(zone))
            local = self._local_serials.get(zone, 0)
            if view is not None and (serial == view.serial or view.serial < serial <= local):
                self._suspects.pop(zone, None)
                continue
            seen = self._suspects.get(zone)
            if view is not None and serial > view.serial and (
                    seen is None or seen <= max(view.serial, local)):
                # Maybe our own commit, whose hook has not run yet (or the one seen
                # last time was): a reload of a big zone is costly, look again first.
                self._suspects[zone] = serial
                continue
            self._suspects.pop(zone, None)
            self._reload(zone)
            changed.append(zone)
        gone = {v.origin.to_text(omit_final_dot=True) for v in self._views.values()} - set(current)
        for zone in gone:
            self._views.pop(dns.name.from_text(zone), None)
            changed.append(zone)
        for zone in changed:
            self._notify(zone)
        return changed

    def apply(self, changes: Iterable[ZoneChange]) -> None:
        """Take committed changes of this process (from any thread); they are
        applied before the next query is answered, or by the server's next
        ``sync()`` tick, whichever is first.

        Deferring costs nothing in freshness (every query syncs first) and
        keeps the work off the API requests' path: no thread wake-up per write.
        """
        for change in changes:
            self._local_serials[change.zone] = change.serial
            self._pending.append(change)
        if self.loop is None:
            self.sync()  # not serving (a script, a test): apply now

    def _drain(self) -> None:
        pending: list[ZoneChange] = []
        while self._pending:
            pending.append(self._pending.popleft())
        serials: dict[str, int] = {}  # zone -> serial to stamp once, after all its changes
        for change in pending:
            origin = dns.name.from_text(change.zone)
            view = self._views.get(origin)
            current = serials.get(change.zone, view.serial if view is not None else None)
            if change.changes is None or view is None or current is None:
                self._reload(change.zone)  # created or deleted
                reloaded = self._views.get(origin)
                serials[change.zone] = reloaded.serial if reloaded is not None else 0
                continue
            if current >= change.serial:
                continue  # a reload already brought this change in
            if current != change.previous_serial:
                self._reload(change.zone)  # we missed a step (another process wrote)
                reloaded = self._views.get(origin)
                serials[change.zone] = reloaded.serial if reloaded is not None else 0
                continue
            for item in change.changes:
                if isinstance(item, Upsert):
                    rrset = to_rrset(item.rrset)
                    view.put(rrset.name, rrset.rdtype, rrset)
                else:
                    view.put(dns.name.from_text(item.name),
                             dns.rdatatype.from_text(item.type), None)
            serials[change.zone] = change.serial
        for zone, serial in serials.items():
            view = self._views.get(dns.name.from_text(zone))
            if view is not None and view.serial != serial:
                view.set_serial(serial)
            self._notify(zone)

    def _reload(self, zone: str) -> None:
        origin = dns.name.from_text(zone)
        with self.db.read() as session:
            if not self._backend.has_zone_in(session, zone):
                self._views.pop(origin, None)
                return
            rrsets = self._backend.read_in(session, zone)
        self._views[origin] = build(zone, rrsets)

    def _notify(self, zone: str) -> None:
        for listener in self._listeners:
            listener(zone)
