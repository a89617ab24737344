"""``dnsgate serve --workers N``: one node's HTTP served by N processes.

One Python process runs on one core (the GIL); the machine PUT path spends
its time in Python, so a second core doubles what a node can take. The
supervisor binds the listening socket, makes what the workers share, and
forks them; each builds its own app and accepts on the same socket.

What the workers share, and why:

* the rate limits (``SharedArrivals``): a client gets its limit once, not
  once per worker its connections land on (the login throttle's counts are
  in the database);
* on SQLite, file locks (``ProcessLocks``): a write transaction waits for the
  other worker's without SQLite's sleeping busy handler, and a provider's
  read-modify-write of a zone excludes the other workers' like PostgreSQL's
  advisory locks do across nodes;
* the DNS wake-ups (``dnsserver/wakeups.py``): worker 0 serves DNS, the others
  name the zones they changed, whose journals it reads before answering.

New connections are spread by the kernel alone (SO_REUSEPORT). It split wrk's
64 keep-alive clients anywhere from 20/44 to 32/32; passing sockets between
the workers to even that out made no run faster (bench/README.md, 2026-12-05).

Any worker that exits on its own takes the others down with it, and the
supervisor exits with its status: a half-running node is worse than a
stopped one that the service manager restarts.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from dnsgate.db.process_locks import ProcessLocks
from dnsgate.dnsserver.wakeups import WakeupReceiver, Wakeups, WakeupSender
from dnsgate.throttling.ratelimit import SharedArrivals

log = logging.getLogger("dnsgate.workers")
_PR_SET_PDEATHSIG = 1
BACKLOG = 2048


@dataclass
class WorkerRole:
    """What one worker process is and holds; ``None`` anywhere means one process."""

    index: int
    arrivals: SharedArrivals
    process_locks: ProcessLocks
    # Set by worker 0 once it serves DNS: the others accept no request before,
    # or their first changes would find no zone view to go into (loading a big
    # zone takes seconds).
    dns_ready: EventType
    wakeup_receiver: WakeupReceiver | None = None  # worker 0: serves DNS
    wakeup_sender: WakeupSender | None = None  # the others

    @property
    def serves_dns(self) -> bool:
        return self.index == 0


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` TCP sockets listening on one address, one per worker.

    SO_REUSEPORT lets the kernel spread new connections evenly over them; on
    one shared socket, asyncio's accept loop takes every waiting connection
    at once, so whichever worker woke first got a whole burst of clients.
    The protocol is spelled out (IPPROTO_TCP): asyncio sets TCP_NODELAY only
    on sockets whose ``proto`` says TCP, and without it keep-alive responses
    wait ~40 ms for delayed ACKs (uvicorn's ``--workers`` socket has proto 0
    and does just that).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            address = sock.getsockname()  # port 0: the others take the one it got
            sock.listen(BACKLOG)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def supervise(socks: list[socket.socket], lock_dir: Path,
              run_worker: Callable[[WorkerRole, socket.socket], None]) -> int:
    """Fork a worker per socket, running ``run_worker(role, its socket)``; wait.

    Returns the exit status for the supervisor: 0 after a clean stop (SIGTERM
    or SIGINT, passed on to every worker), else the first failing worker's.
    """
    count = len(socks)
    arrivals = SharedArrivals()
    wakeups = Wakeups(count)
    dns_ready = multiprocessing.get_context("fork").Event()
    children: dict[int, int] = {}
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(count):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child (tests see it over HTTP)
            for other in socks[:index] + socks[index + 1:]:
                other.close()
            _run_child(WorkerRole(index, arrivals, ProcessLocks(lock_dir),
                                  dns_ready),
                       wakeups, socks[index], run_worker)
        children[pid] = index
    wakeups.close()
    for sock in socks:
        sock.close()
    log.info("dnsgate: %d workers (pids %s)", count, ", ".join(map(str, children)))
    status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        code = os.waitstatus_to_exitcode(wait_status)
        if not stopping:
            log.error("worker %d (pid %d) exited with %d; stopping the others", index, pid, code)
            status = code or 1
            stop()
    return status


def _run_child(role: WorkerRole, wakeups: Wakeups, sock: socket.socket,  # pragma: no cover
               run_worker: Callable[[WorkerRole, socket.socket], None]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _die_with_parent()
        if role.serves_dns:
            role.wakeup_receiver = wakeups.receiver()
        else:
            role.wakeup_sender = wakeups.sender(role.index)
        run_worker(role, sock)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", role.index)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: SIGTERM this worker if the supervisor dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
