"""Wake-ups from the other workers of ``serve --workers`` to the one serving DNS.

A change must be answered by the node's DNS server before the API call that
made it returns, whichever worker took the call. The change itself is in the
journal (``db/journal.py``); what travels here is only the name of the zone
that moved, so the DNS worker knows which journal to read forward.

Each other worker has a socket to the DNS worker (SOCK_SEQPACKET: a message
goes whole or not at all) and a counter in shared memory. After a commit it
sends the zone names, then counts the message; its API answers after that.
Before every answer the DNS server compares the counters with what it has
read and, if behind, reads the names (already in the socket's buffer) and
then the journals. A send never blocks the sender's event loop: if the
buffer is full the message is dropped, and the DNS server's slow poll finds
the zone's newest journal entry ahead of its view.

Both ends are made before the workers fork, and only dnsgate's own processes
hold them.
"""

from __future__ import annotations

import logging
import mmap
import socket
import struct
import threading
from typing import Any

from dnsgate.backends.builtin import ZONES_REPLACED
from dnsgate.db import journal

log = logging.getLogger("dnsgate.dns")
_COUNT = struct.Struct("=Q")
BUFFER_BYTES = 1 << 20  # asked for; the kernel caps it (net.core.wmem_max)
MAX_MESSAGE = 1 << 16


def zones_of(info: dict[str, Any]) -> list[str]:
    """The built-in zones a commit changed (its ``info``)."""
    zones = {item.zone for item in info.get(journal.APPENDED, ()) if item.builtin}
    zones.update(info.get(ZONES_REPLACED, ()))
    return sorted(zones)


class Wakeups:
    """The sockets and counters for ``workers`` processes (made before fork)."""

    def __init__(self, workers: int) -> None:
        self._pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                       for _ in range(workers - 1)]
        for pair in self._pairs:
            for end in pair:
                end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER_BYTES)
                end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER_BYTES)
                end.setblocking(False)
        self._counts = mmap.mmap(-1, _COUNT.size * max(1, workers - 1))  # MAP_SHARED

    def sender(self, worker: int) -> WakeupSender:
        """For worker ``worker`` (1..N-1), after fork; closes the ends it must not hold."""
        keep = self._pairs[worker - 1][1]
        self._close_all_but(keep)
        return WakeupSender(keep, self._counts, worker - 1)

    def receiver(self) -> WakeupReceiver:
        """For the DNS worker (0), after fork."""
        ends = [ours for ours, _ in self._pairs]
        self._close_all_but(*ends)
        return WakeupReceiver(ends, self._counts)

    def close(self) -> None:
        """In the supervisor, once every worker has its ends."""
        self._close_all_but()

    def _close_all_but(self, *keep: socket.socket) -> None:
        for pair in self._pairs:
            for end in pair:
                if end not in keep:
                    end.close()


class WakeupSender:
    """A commit hook (``Database.on_commit``) that names the changed zones."""

    def __init__(self, sock: socket.socket, counts: mmap.mmap, slot: int) -> None:
        self._sock = sock
        self._counts = counts
        self._offset = slot * _COUNT.size
        self._sent = 0
        self._lock = threading.Lock()  # commits may come from several threads

    def __call__(self, info: dict[str, Any]) -> None:
        zones = zones_of(info)
        if not zones:
            return
        data = "\n".join(zones).encode()[:MAX_MESSAGE]
        with self._lock:
            try:
                self._sock.send(data)
            except OSError as exc:
                log.warning("could not wake the DNS worker (%s); its poll will find "
                            "the change", exc)
                return
            self._sent += 1
            _COUNT.pack_into(self._counts, self._offset, self._sent)


class WakeupReceiver:
    """The DNS worker's end: which zones the other workers changed."""

    def __init__(self, socks: list[socket.socket], counts: mmap.mmap) -> None:
        self.socks = socks
        self._counts = counts
        self._read = [0] * len(socks)
        self._lock = threading.Lock()

    def behind(self) -> bool:
        """Whether a worker counted a message not read yet (cheap: every query asks)."""
        counts, read = self._counts, self._read
        return any(_COUNT.unpack_from(counts, index * _COUNT.size)[0] > done
                   for index, done in enumerate(read))

    def drain(self) -> list[str]:
        """The zones named in every message there is (each sent before it was counted)."""
        zones: list[str] = []
        with self._lock:
            for index, sock in enumerate(self.socks):
                while True:
                    try:
                        data = sock.recv(MAX_MESSAGE)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if not data:
                        break  # that worker has gone
                    zones.extend(data.decode().split("\n"))
                    self._read[index] += 1
        return zones
