"""PostgreSQL's NOTIFY: the other nodes' changes to the built-in zones.

A writer on any node sends ``NOTIFY dnsgate_journal, '<zone>'`` in the
transaction that journals a built-in zone's change (``db/journal.py``);
PostgreSQL delivers it at commit to every listener. Each DNS server listens
on a connection of its own, on a thread of its own, and asks its store to
read that zone's journal forward. A lost connection is made again; changes
made meanwhile are found by the store's poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from dnsgate.db import journal

log = logging.getLogger("dnsgate.dns")
RECONNECT_SECONDS = 1.0
WAIT_SECONDS = 0.5  # how long one wait for notifications lasts (and a stop takes)


def conninfo(url: str) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL."""
    plain = make_url(url).set(drivername="postgresql")
    return plain.render_as_string(hide_password=False)


class JournalListener:
    """Calls ``on_zone(zone)`` for every built-in zone another process changed."""

    def __init__(self, url: str, on_zone: Callable[[str], None]) -> None:
        self._conninfo = conninfo(url)
        self._on_zone = on_zone
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dnsgate-listen", daemon=True)
        self.listening = threading.Event()  # set once LISTEN is in place

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {journal.CHANNEL}")
                    self.listening.set()
                    while not self._stopped.is_set():
                        for notice in conn.notifies(timeout=WAIT_SECONDS):
                            self._on_zone(notice.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("listening for other nodes' changes failed (%s); again in %.0f s",
                            type(exc).__name__, RECONNECT_SECONDS)
                self._stopped.wait(RECONNECT_SECONDS)
            except Exception:
                log.exception("the journal listener failed; again in %.0f s", RECONNECT_SECONDS)
                self._stopped.wait(RECONNECT_SECONDS)
