"""The DNS side of ``dnsgate serve``: zone store, server, NOTIFY to secondaries,
and what keeps the store current (this process's commits, the other workers'
wake-ups, PostgreSQL's NOTIFY from other nodes, and a slow poll). Started and
stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import logging
import threading
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring

from dnsgate.backends.builtin import ZONES_REPLACED
from dnsgate.db import journal
from dnsgate.db.engine import Database
from dnsgate.dnsserver.listen import JournalListener
from dnsgate.dnsserver.server import DnsServer, ServerConfig
from dnsgate.dnsserver.store import ZoneStore
from dnsgate.dnsserver.transfer import TransferPolicy
from dnsgate.dnsserver.wakeups import WakeupReceiver, zones_of
from dnsgate.observability import metrics
from dnsgate.services import secondaries
from dnsgate.services.secondaries import SETTINGS_CHANGED, TransferSettings

log = logging.getLogger("dnsgate.dns")
SYNC_SECONDS = 0.05  # wake-ups between queries: NOTIFY goes out this soon
POLL_SECONDS = 0.5  # the fallback: a change whose wake-up was lost is answered this soon
NOTIFY_TRIES = 3
NOTIFY_TIMEOUT = 1.0


class DnsService:
    """Everything the embedded DNS server needs, with one start and one stop."""

    def __init__(self, db: Database, config: ServerConfig,
                 wakeups: WakeupReceiver | None = None) -> None:
        """``wakeups``: the other workers' changes, with ``serve --workers``."""
        self.db = db
        self.store = ZoneStore(db)
        self.store.wakeups = wakeups
        self.store.server_name = f"{config.host}:{config.port}"
        self._listener = (None if db.is_sqlite
                          else JournalListener(db.url, lambda zone: self.store.want([zone])))
        self.settings: dict[str, TransferSettings] = {}
        self.server = DnsServer(self.store, config, policy=self._policy)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._notify_due: set[str] = set()  # zones with a NOTIFY on its way to our loop
        self.store.on_change(self._zone_changed)

    async def start(self) -> None:
        self.store.loop = asyncio.get_running_loop()
        self.store.load_all()
        self._load_settings()
        self.db.on_commit(self._committed)
        if self._listener is not None:
            self._listener.start()
        await self.server.start()
        self._poller = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        self.db.remove_commit_hook(self._committed)
        if self._listener is not None:
            await asyncio.to_thread(self._listener.stop)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for task in list(self._tasks):
            task.cancel()
        await self.server.stop()
        self.store.loop = None

    @property
    def port(self) -> int:
        return self.server.port

    # --- keeping current ------------------------------------------------

    def _committed(self, info: dict[str, Any]) -> None:
        """After a commit in this process (any thread): its journal entries go
        into the views before the API answers, and changed transfer settings
        are read (the next change's NOTIFY goes by them).

        The change is committed whatever happens here: if taking it in fails,
        the zones it touched are read again from the database instead (the
        request that made it still succeeds, see ``Database._run_hooks``)."""
        try:
            if info.get(SETTINGS_CHANGED):
                self._load_settings()
            appended = [item for item in info.get(journal.APPENDED, ()) if item.builtin]
            if appended:
                self.store.take(appended)
            replaced = info.get(ZONES_REPLACED)
            if replaced:
                self.store.replaced(replaced)
        except Exception:
            zones = zones_of(info)
            log.exception("taking in a committed change failed; reading %s again",
                          ", ".join(zones) or "nothing")
            self.store.want(zones, whole=True)

    async def _poll_forever(self) -> None:
        """Take in wake-ups every tick (queries take them first anyway), and
        compare every zone with its journal every POLL_SECONDS."""
        ticks = 0
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            ticks += 1
            try:
                self.store.sync()
                if ticks * SYNC_SECONDS >= POLL_SECONDS:
                    ticks = 0
                    self.store.poll()
                    self._load_settings()
                    metrics.count_job("dns_poll", "ok")
            except Exception:
                metrics.count_job("dns_poll", "error")
                log.exception("keeping the zones current failed")

    def _load_settings(self) -> None:
        with self.db.read() as session:
            settings = secondaries.load_all(session)
        if settings == self.settings:
            return
        self.settings = settings
        keyring: dict[dns.name.Name, dns.tsig.Key] = {}
        for zone in settings.values():
            for key in zone.keys:
                name = dns.name.from_text(key.name)
                keyring[name] = dns.tsig.Key(name, key.secret, f"{key.algorithm}.")
        with self.store.lock:
            self.server.keyring = keyring
            self.server.clear_cache()

    def _policy(self, zone: str) -> TransferPolicy | None:
        settings = self.settings.get(zone)
        if settings is None:
            return None
        return TransferPolicy(
            networks=tuple(ipaddress.ip_network(n) for n in settings.networks),
            keys=frozenset(dns.name.from_text(k.name) for k in settings.keys))

    # --- NOTIFY -----------------------------------------------------------

    def _zone_changed(self, zone: str) -> None:
        """On the thread that changed the zone: NOTIFY its secondaries from our
        loop, once for a burst of changes (they ask for the SOA, then transfer)."""
        settings = self.settings.get(zone)
        loop = self.store.loop
        if settings is None or not settings.notify or loop is None or zone in self._notify_due:
            return
        self._notify_due.add(zone)
        loop.call_soon_threadsafe(self._send_notifies, zone)

    def _send_notifies(self, zone: str) -> None:
        self._notify_due.discard(zone)
        settings = self.settings.get(zone)
        if settings is None:
            return
        for host, port in settings.notify:
            task = asyncio.get_running_loop().create_task(
                self._notify(zone, host, port, settings))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self, zone: str, host: str, port: int,
                      settings: TransferSettings) -> None:
        """RFC 1996 NOTIFY, retried until the secondary answers."""
        message = dns.message.make_query(zone, dns.rdatatype.SOA)
        message.flags = dns.flags.AA  # the opcode lives in the flags: set it after
        message.set_opcode(dns.opcode.NOTIFY)
        if settings.keys:
            key = settings.keys[0]
            message.use_tsig(dns.tsigkeyring.from_text({key.name: (key.algorithm, key.secret)}),
                             keyname=key.name)
        for _ in range(NOTIFY_TRIES):
            try:
                await dns.asyncquery.udp(message, host, port=port, timeout=NOTIFY_TIMEOUT)
                metrics.count_job("dns_notify", "ok")
                return
            except (dns.exception.Timeout, OSError, dns.exception.DNSException):
                continue
        metrics.count_job("dns_notify", "error")
        log.warning("secondary %s:%s did not answer NOTIFY for %s", host, port, zone)


class ThreadedDnsService:
    """A DnsService on a thread and event loop of its own (uvloop where installed).

    The DNS server then neither waits behind HTTP requests nor slows them, and
    it gets uvloop's UDP speed (about 1.9x the stdlib loop's QPS here) while
    the HTTP side stays on the stdlib loop (see bench/README.md).
    """

    def __init__(self, db: Database, config: ServerConfig,
                 wakeups: WakeupReceiver | None = None) -> None:
        """``wakeups``: other workers' changes (``serve --workers``)."""
        self.service = DnsService(db, config, wakeups)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.service.port

    async def start(self) -> None:
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop = _new_loop()
        loop = self._loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.service.start())
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(None)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="dnsgate-dns", daemon=True)
        self._thread.start()
        await asyncio.wrap_future(started)

    async def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        stopped = asyncio.run_coroutine_threadsafe(self.service.stop(), self._loop)
        await asyncio.wrap_future(stopped)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 10)
        self._loop.close()
        self._loop = None


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
