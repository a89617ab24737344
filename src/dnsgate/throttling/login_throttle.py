"""Growing delays after failed logins, on top of the flat rate limits.

Consecutive failures are counted per key (the web UI uses ``user|address``
and ``address``); after ``free`` of them each further attempt must wait
twice as long as the one before, up to ``cap``. A success clears its key.
Keyed by name *and* address, a stranger guessing an admin's name slows only
themselves down, never the admin at their own address.

The counts are rows of the database (``login_failures``, one per key), so a
guesser meets one count whichever worker and node each attempt lands on.
Each step is one statement, run where the sign-in runs its other queries:
``check`` one SELECT, ``failed`` one INSERT ... ON CONFLICT DO UPDATE that
counts every key of the attempt at once (atomic on SQLite and PostgreSQL
alike: concurrent failures all count), ``succeeded`` one DELETE.

A key's count is forgotten ``forget`` after its last failure (a day by
default): the next failure counts from one again. Rows that old are deleted
along with every ``PRUNE_EVERY``-th failure this process records.
Keys are stored as SHA-256 digests: what strangers type as a name can be
any length (or a password typed into the wrong field), and is not kept.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import TextClause, bindparam, delete, select, text

from dnsgate.db.engine import Database
from dnsgate.db.models import LoginFailure, UTCDateTime, table_of, utcnow
from dnsgate.domain.errors import RateLimited

PRUNE_EVERY = 256
_FAILURES = table_of(LoginFailure)


def _digests(keys: Iterable[str]) -> list[str]:
    """The stored form of ``keys``, each once, in one order (concurrent
    upserts of the same keys then lock their rows in the same order)."""
    return sorted({hashlib.sha256(key.encode()).hexdigest() for key in keys})


@functools.cache
def _upsert(keys: int) -> TextClause:
    """The one statement of a failure of ``keys`` keys: a first failure
    inserts 1, a later one adds 1 (or starts at 1 again after ``forget``).

    Text, the same for SQLite and PostgreSQL, made once per number of keys:
    SQLAlchemy never caches a multi-row ``insert().values([...])``, and
    compiling it each time cost ~1 ms of the loop per failure.
    """
    rows = ", ".join(f"(:key{index}, 1, :now)" for index in range(keys))
    return text(
        f"INSERT INTO login_failures (key, failures, last_failure) VALUES {rows} "  # noqa: S608 - placeholders only
        "ON CONFLICT (key) DO UPDATE SET failures = CASE "
        "WHEN login_failures.last_failure < :horizon THEN 1 "
        "ELSE login_failures.failures + 1 END, last_failure = excluded.last_failure"
    ).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("horizon", type_=UTCDateTime()))


class LoginThrottle:
    """Counts consecutive failures per key and refuses attempts that come too soon."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow, *,
                 free: int = 3, base: timedelta = timedelta(seconds=1),
                 cap: timedelta = timedelta(minutes=15),
                 forget: timedelta = timedelta(days=1)) -> None:
        """``forget`` must be at least ``cap``: a count is never forgotten
        while its wait is still running."""
        if forget < cap:
            raise ValueError("forget must be at least cap")
        self._db = db
        self._clock = clock
        self._free = free
        self._base = base
        self._cap = cap
        self._forget = forget
        self._recorded = 0  # failures this process wrote, for the pruning

    def delay(self, count: int) -> timedelta:
        """How long to wait after ``count`` consecutive failures."""
        if count < self._free:
            return timedelta(0)
        return min(self._cap, self._base * (1 << min(count - self._free, 32)))

    def check(self, keys: Iterable[str]) -> None:
        """Raise RateLimited if any key must still wait."""
        digests = _digests(keys)
        if not digests:
            return
        now = self._clock()
        with self._db.read() as session:
            rows = session.execute(select(_FAILURES.c.failures, _FAILURES.c.last_failure)
                                   .where(_FAILURES.c.key.in_(digests))).all()
        wait = max(((last + self.delay(count) - now).total_seconds() for count, last in rows),
                   default=0.0)
        if wait > 0:
            raise RateLimited("too many failed attempts", retry_after=max(1, math.ceil(wait)))

    def failed(self, keys: Iterable[str]) -> None:
        """Count one more failure of each key."""
        digests = _digests(keys)
        if not digests:
            return
        now = self._clock()
        horizon = now - self._forget
        with self._db.write() as session:
            session.execute(_upsert(len(digests)),
                            {"now": now, "horizon": horizon}
                            | {f"key{index}": digest for index, digest in enumerate(digests)})
            self._recorded += 1
            if self._recorded % PRUNE_EVERY == 0:
                session.execute(delete(_FAILURES).where(_FAILURES.c.last_failure < horizon))

    def succeeded(self, keys: Iterable[str]) -> None:
        """Clear the counts of ``keys``."""
        digests = _digests(keys)
        if not digests:
            return
        with self._db.write() as session:
            session.execute(delete(_FAILURES).where(_FAILURES.c.key.in_(digests)))
