"""The parts of ``serve --workers``: sockets, the DNS wake-ups, the file locks."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable

from dnsgate.backends.builtin import ZONES_REPLACED
from dnsgate.db import journal
from dnsgate.db.process_locks import ProcessLocks
from dnsgate.dnsserver.wakeups import WakeupReceiver, Wakeups, WakeupSender, zones_of
from dnsgate.domain.records import parsed_rrset
from dnsgate.workers import listening_sockets


async def test_accepted_connections_get_tcp_nodelay():
    """Without it every keep-alive response waits ~40 ms for a delayed ACK."""
    socks = listening_sockets("127.0.0.1", 0, 2)
    assert len({sock.getsockname() for sock in socks}) == 1  # one port for all
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=socks[0])
    try:
        port = socks[0].getsockname()[1]
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(8)]
        assert await asyncio.wait_for(seen, 5) != 0
        for _, writer in connections:
            writer.close()
    finally:
        server.close()
        for sock in socks:
            sock.close()


def _appended(zone: str, *, builtin: bool = True) -> journal.Appended:
    step = journal.Step("www." + zone, "TXT", None,
                        parsed_rrset("www." + zone, "TXT", 60, ['"a" "b"']))
    return journal.Appended(1, zone, 1, 1, 2026120501, (step,), builtin)


def test_a_wakeup_names_the_builtin_zones_a_commit_changed():
    info = {journal.APPENDED: [_appended("b.test"), _appended("a.test"),
                               _appended("provider.test", builtin=False)],
            ZONES_REPLACED: ["new.test"]}
    assert zones_of(info) == ["a.test", "b.test", "new.test"]
    assert zones_of({"unrelated": [1]}) == []


def test_the_dns_worker_reads_what_was_counted_before_answering():
    wakeups = Wakeups(2)
    ours, theirs = wakeups._pairs[0]
    sender = WakeupSender(theirs, wakeups._counts, 0)
    receiver = WakeupReceiver([ours], wakeups._counts)
    assert not receiver.behind()
    for index in range(50):
        sender({journal.APPENDED: [_appended(f"z{index}.test")]})
    sender({"nothing": "for DNS"})  # not sent, not counted
    assert receiver.behind()
    assert receiver.drain() == [f"z{index}.test" for index in range(50)]
    assert not receiver.behind()
    theirs.close()
    assert receiver.drain() == []  # the worker went away
    wakeups.close()


def test_a_full_socket_never_blocks_the_sender():
    wakeups = Wakeups(2)
    ours, theirs = wakeups._pairs[0]
    sender = WakeupSender(theirs, wakeups._counts, 0)
    started = time.monotonic()
    for index in range(100_000):  # more than the buffer holds; nobody reads
        sender({ZONES_REPLACED: [f"zone-{index}.test"]})
    assert time.monotonic() - started < 60  # never waits for the reader (2 cores, loaded)
    receiver = WakeupReceiver([ours], wakeups._counts)
    assert receiver.behind()
    assert 0 < len(receiver.drain()) < 100_000  # the rest is left to the poll
    wakeups.close()


def _waited_in_child(hold: Callable[[], Callable[[], None]],
                     wait: Callable[[], None]) -> bool:
    """Whether a forked process's ``wait()`` lasted until we let go of ``hold()``.

    The child forks before the parent locks: a lock taken before fork would be
    the child's too (flock belongs to the open file, which fork shares)."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(ready_r, 1)  # the parent holds it now
        started = time.monotonic()
        wait()
        os._exit(0 if time.monotonic() - started >= 0.3 else 1)
    release = hold()
    os.write(ready_w, b"x")
    time.sleep(0.4)
    release()
    _, status = os.waitpid(pid, 0)
    os.close(ready_r)
    os.close(ready_w)
    return os.waitstatus_to_exitcode(status) == 0


def test_a_key_lock_excludes_another_process(tmp_path):
    locks = ProcessLocks(tmp_path / "locks")
    assert _waited_in_child(lambda: locks.acquire("zone:example.test"),
                            lambda: locks.acquire("zone:example.test")())
    other = locks.acquire("zone:other.test")  # other keys are not held
    other()


def test_the_write_gate_excludes_another_process(tmp_path):
    def hold() -> Callable[[], None]:
        gate = ProcessLocks(tmp_path / "locks")
        gate.enter_write()
        return gate.leave_write

    def wait() -> None:
        gate = ProcessLocks(tmp_path / "locks")
        gate.enter_write()
        gate.leave_write()

    assert _waited_in_child(hold, wait)
