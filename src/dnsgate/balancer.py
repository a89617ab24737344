"""Open connections kept even across the workers of ``serve --workers N``.

SO_REUSEPORT picks a worker for each new connection by a hash of its
addresses, which evens out over many short connections but not over a few
long ones: 64 keep-alive clients landed 36/28 or 27/37 as often as 32/32, and
the worker with more clients gave each of them less (bench/README.md). A
reverse proxy's handful of upstream connections fares worse still.

So each worker counts its open connections in shared memory, and one that is
handed a connection while it holds more than another worker passes the
socket on (SCM_RIGHTS over a Unix socket made before the fork) to the one
with the fewest, before a byte of it is read. A burst of new connections
leaves the counts at most two apart (``SLACK``), and when one worker's
clients leave, the next connections go to it; the kernel's pick stands
whenever it is good enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

log = logging.getLogger("dnsgate.workers")
_MESSAGE = b"c"
#: A worker keeps a new connection while it holds at most this many more than
#: the emptiest. 0 would pass on every other connection of a churning load
#: (one request per connection): 3-11 % fewer of them per second in a 2 x 10 s
#: A/B, against none lost with 1.
SLACK = 1


class ConnectionBalancer:
    """The shared counts and one inbox per worker; made before the fork."""

    def __init__(self, workers: int) -> None:
        self._counts = multiprocessing.get_context("fork").Array(ctypes.c_long, workers)
        self._inboxes = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                         for _ in range(workers)]
        for receiving, sending in self._inboxes:
            receiving.setblocking(False)
            sending.setblocking(False)

    def worker(self, index: int) -> WorkerBalance:
        """Worker ``index``'s side (in the child): its inbox, the others' outboxes."""
        inbox = self._inboxes[index][0]
        outboxes = {other: pair[1] for other, pair in enumerate(self._inboxes) if other != index}
        for other, (receiving, sending) in enumerate(self._inboxes):
            if other != index:
                receiving.close()
            else:
                sending.close()
        return WorkerBalance(index, self._counts, inbox, outboxes)

    def close(self) -> None:
        """The supervisor's copies: it passes no connections itself."""
        for receiving, sending in self._inboxes:
            receiving.close()
            sending.close()


class WorkerBalance:
    """One worker's view: where a new connection goes, and the hand-over."""

    def __init__(self, index: int, counts: Any, inbox: socket.socket,
                 outboxes: dict[int, socket.socket]) -> None:
        self.index = index
        self._counts = counts
        self.inbox = inbox
        self._outboxes = outboxes

    def assign(self) -> int:
        """The worker that takes a connection this one accepted, counted as its."""
        with self._counts.get_lock():
            counts = self._counts
            fewest = min(range(len(counts)), key=counts.__getitem__)
            target = self.index if counts[self.index] <= counts[fewest] + SLACK else fewest
            counts[target] += 1
        return target

    def reassign(self, source: int, target: int) -> None:
        """Count a connection under ``target`` instead of ``source``."""
        with self._counts.get_lock():
            self._counts[source] -= 1
            self._counts[target] += 1

    def closed(self) -> None:
        """One of this worker's connections ended."""
        with self._counts.get_lock():
            self._counts[self.index] -= 1

    def counts(self) -> list[int]:
        with self._counts.get_lock():
            return list(self._counts)

    def send(self, target: int, sock: socket.socket | Any) -> bool:
        """Pass ``sock`` to worker ``target``; False if its inbox takes nothing now."""
        try:
            socket.send_fds(self._outboxes[target], [_MESSAGE], [sock.fileno()])
        except OSError:
            return False
        return True

    def receive(self) -> list[socket.socket]:
        """The sockets waiting in this worker's inbox (one per message).

        Raises EOFError once no other worker holds a way in (they all exited).
        """
        taken: list[socket.socket] = []
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.inbox, len(_MESSAGE), 1)
            except (BlockingIOError, InterruptedError):
                return taken
            if not data and not fds:
                for sock in taken:
                    sock.close()
                raise EOFError
            taken.extend(socket.socket(fileno=fd) for fd in fds)


class BalancedProtocols:
    """Stands in for the server's protocol class: keeps a new connection here
    or hands it to the worker ``balance`` picks, and counts the ones kept."""

    def __init__(self, protocol_class: Callable[..., asyncio.Protocol],
                 balance: WorkerBalance) -> None:
        self.balance = balance
        self.counted = _counted(protocol_class, balance.closed)

    def __call__(self, **kwargs: Any) -> asyncio.Protocol:
        target = self.balance.assign()
        if target == self.balance.index:
            return self.counted(**kwargs)
        return _HandOver(self, target, kwargs)

    def adopt(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
              **kwargs: Any) -> asyncio.Future[Any]:
        """Serve a socket another worker passed here (already counted as ours)."""
        return asyncio.ensure_future(
            loop.connect_accepted_socket(lambda: self.counted(**kwargs), sock))


def _counted(protocol_class: Callable[..., asyncio.Protocol],
             on_close: Callable[[], None]) -> Callable[..., asyncio.Protocol]:
    base: Any = protocol_class

    class Counted(base):  # type: ignore[misc]
        def connection_lost(self, exc: Exception | None) -> None:
            try:
                super().connection_lost(exc)
            finally:
                on_close()
    return Counted


class _HandOver(asyncio.Protocol):
    """Passes its connection on as soon as it is made, before anything is read.

    Nothing is sent or shut down: closing this process's descriptor leaves
    the connection to the copy in the target worker. If the target's inbox
    is full, the connection stays here after all.
    """

    def __init__(self, protocols: BalancedProtocols, target: int, kwargs: dict[str, Any]) -> None:
        self._protocols = protocols
        self._target = target
        self._kwargs = kwargs

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        balance = self._protocols.balance
        sock = transport.get_extra_info("socket")
        if sock is not None and balance.send(self._target, sock):
            transport.abort()  # closes only this process's descriptor
            return
        balance.reassign(self._target, balance.index)
        kept = self._protocols.counted(**self._kwargs)
        transport.set_protocol(kept)
        kept.connection_made(transport)


def serve_inbox(loop: asyncio.AbstractEventLoop, protocols: BalancedProtocols,
                **kwargs: Any) -> Callable[[], None]:
    """Adopt the connections passed to this worker as they come; returns the
    function that stops it. ``kwargs`` are what the protocol class takes."""
    pending: set[asyncio.Future[Any]] = set()

    def readable() -> None:
        try:
            passed = protocols.balance.receive()
        except EOFError:
            stop()
            return
        for sock in passed:
            future = protocols.adopt(loop, sock, **kwargs)
            pending.add(future)
            future.add_done_callback(_adopted(pending, sock, protocols.balance))

    loop.add_reader(protocols.balance.inbox.fileno(), readable)

    def stop() -> None:
        loop.remove_reader(protocols.balance.inbox.fileno())
    return stop


def _adopted(pending: set[asyncio.Future[Any]], sock: socket.socket,
             balance: WorkerBalance) -> Callable[[asyncio.Future[Any]], None]:
    def done(future: asyncio.Future[Any]) -> None:
        pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            # never served, so never closed through the counted protocol
            log.warning("could not serve a connection passed from another worker: %s",
                        future.exception())
            balance.closed()
            with contextlib.suppress(OSError):
                sock.close()
    return done


class BalancedServer(uvicorn.Server):
    """uvicorn's server, with new connections balanced through ``balance``."""

    def __init__(self, config: uvicorn.Config, balance: WorkerBalance) -> None:
        super().__init__(config)
        self.balance = balance
        self._stop_inbox: Callable[[], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        protocols = BalancedProtocols(self.config.http_protocol_class, self.balance)
        self.config.http_protocol_class = protocols  # type: ignore[assignment]
        await super().startup(sockets)
        self._stop_inbox = serve_inbox(asyncio.get_running_loop(), protocols,
                                       config=self.config, server_state=self.server_state,
                                       app_state=self.lifespan.state)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._stop_inbox is not None:
            self._stop_inbox()
        await super().shutdown(sockets)
