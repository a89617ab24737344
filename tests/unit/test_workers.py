"""The parts of ``serve --workers``: sockets, the DNS relay, the file locks."""

from __future__ import annotations

import asyncio
import mmap
import os
import socket
import time
from collections.abc import Callable

from dnsgate.backends.builtin import ZONE_CHANGES, ZoneChange
from dnsgate.db.process_locks import ProcessLocks
from dnsgate.dnsserver.relay import RelayReceiver, RelaySender, decode, encode
from dnsgate.domain.records import Delete, RRset, Upsert, parsed_rrset
from dnsgate.services.secondaries import SETTINGS_CHANGED
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


def _change(serial: int) -> ZoneChange:
    return ZoneChange("example.test", serial, serial - 1, (
        Upsert(parsed_rrset("www.example.test", "TXT", 60, ['"a" "b"'])),
        Delete("old.example.test", "A")))


def test_a_change_survives_the_wire():
    info = {ZONE_CHANGES: [_change(2), ZoneChange("new.test", 1, 0, None)],
            SETTINGS_CHANGED: ["example.test"]}
    data = encode(info)
    assert data is not None
    back = decode(data)
    assert back[SETTINGS_CHANGED] == ["example.test"]
    first, second = back[ZONE_CHANGES]
    assert first == _change(2)  # records compare as text; their parsed form stays home
    assert isinstance(first.changes[0].rrset, RRset) and first.changes[0].rrset.rdatas is None
    assert second == ZoneChange("new.test", 1, 0, None)
    assert encode({"unrelated": [1]}) is None


def test_the_dns_worker_reads_what_was_counted_before_answering():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    counts = mmap.mmap(-1, 8)
    sender = RelaySender(theirs, counts, 0)
    receiver = RelayReceiver([ours], counts)
    got: list[int] = []
    receiver.deliver = lambda info: got.extend(c.serial for c in info[ZONE_CHANGES])
    assert not receiver.behind()
    for serial in range(2, 52):
        sender({ZONE_CHANGES: [_change(serial)]})
    sender({"nothing": "for DNS"})  # not sent, not counted
    huge = Upsert(RRset("big.example.test", "TXT", 60, tuple(f'"{n:0250}"' for n in range(5000))))
    sender({ZONE_CHANGES: [ZoneChange("example.test", 99, 98, (huge,))]})  # left to the poll
    assert receiver.behind()
    receiver.catch_up()
    assert got == list(range(2, 52))
    assert not receiver.behind()
    theirs.close()
    assert receiver.take_ready(0) is False  # the worker went away
    ours.close()


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
