"""The connection balancer of ``serve --workers``, two workers in one event loop.

Real sockets throughout: a listening socket for the worker that accepts, a
Unix socket pair for each inbox, and a client that connects over TCP and
reads which worker's protocol answered.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from dnsgate.balancer import BalancedProtocols, ConnectionBalancer, WorkerBalance, serve_inbox


class Tagged(asyncio.Protocol):
    """Answers every line with its worker's name; records when it closes."""

    closed: list[str] = []

    def __init__(self, *, name: str) -> None:
        self.name = name

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(self.name.encode() + b"\n")

    def connection_lost(self, exc: Exception | None) -> None:
        Tagged.closed.append(self.name)


@pytest.fixture
def pair() -> Iterator[tuple[WorkerBalance, WorkerBalance]]:
    """Two workers' views, sharing their counts as forked workers do."""
    counts: Any = multiprocessing.get_context("fork").Array(ctypes.c_long, 2)
    inbox0, outbox0 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    inbox1, outbox1 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for sock in (inbox0, outbox0, inbox1, outbox1):
        sock.setblocking(False)
    yield (WorkerBalance(0, counts, inbox0, {1: outbox1}),
           WorkerBalance(1, counts, inbox1, {0: outbox0}))
    for sock in (inbox0, outbox0, inbox1, outbox1):
        sock.close()


async def _ask(port: int) -> tuple[str, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"who\n")
    await writer.drain()
    return (await asyncio.wait_for(reader.readline(), 5)).decode().strip(), writer


async def _serve(balance: WorkerBalance, name: str) -> tuple[asyncio.Server, int]:
    protocols = BalancedProtocols(Tagged, balance)
    server = await asyncio.get_running_loop().create_server(
        lambda: protocols(name=name), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_the_worker_with_fewer_connections_gets_the_next_one(pair):
    first, second = pair
    # a worker keeps what it is handed while it holds at most SLACK (1) more
    assert [first.assign(), first.assign(), first.assign()] == [0, 0, 1]
    assert first.counts() == [2, 1]
    assert [second.assign() for _ in range(4)] == [1, 1, 1, 0]
    assert first.counts() == [3, 4]
    first.closed()
    second.closed()
    assert second.counts() == [2, 3]


def test_a_connection_is_passed_to_the_worker_with_fewer_and_served_there(pair):
    first, second = pair

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        server, port = await _serve(first, "zero")
        stop = serve_inbox(loop, BalancedProtocols(Tagged, second), name="one")
        Tagged.closed.clear()
        answers, writers = [], []
        for _ in range(6):
            answer, writer = await _ask(port)
            answers.append(answer)
            writers.append(writer)
        # every connection reached worker 0's socket; those that would have
        # put it two ahead went on
        assert answers == ["zero", "zero", "one", "zero", "one", "zero"]
        assert first.counts() == [4, 2]
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        for _ in range(100):
            if first.counts() == [0, 0]:
                break
            await asyncio.sleep(0.01)
        assert first.counts() == [0, 0]
        assert sorted(Tagged.closed) == ["one"] * 2 + ["zero"] * 4
        stop()
        server.close()

    asyncio.run(scenario())


def test_a_connection_stays_if_the_other_worker_takes_nothing(pair):
    first, second = pair
    second.inbox.close()  # worker 1 is gone: nothing can be passed to it

    async def scenario() -> None:
        server, port = await _serve(first, "zero")
        second.assign()
        first.reassign(1, 0)
        first.reassign(1, 0)  # counts [2, -1]: worker 1 looks emptier
        answer, writer = await _ask(port)
        assert answer == "zero"
        assert first.counts() == [3, -1]
        writer.close()
        await writer.wait_closed()
        server.close()

    asyncio.run(scenario())


def test_the_supervisor_hands_each_worker_its_own_inbox():
    balancer = ConnectionBalancer(3)
    balance = balancer.worker(1)
    assert balance.index == 1
    with pytest.raises(OSError):  # the others' inboxes are closed in this process
        balancer._inboxes[0][0].recv(1)
    assert sorted(balance._outboxes) == [0, 2]
    balance.inbox.close()
    for outbox in balance._outboxes.values():
        outbox.close()
    balancer.close()


def test_an_inbox_nobody_can_send_to_any_more_stops_being_read(pair):
    first, second = pair
    first._outboxes[1].close()  # the only way into worker 1's inbox

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        serve_inbox(loop, BalancedProtocols(Tagged, second), name="one")
        await asyncio.sleep(0.05)
        # the end-of-file took it off the loop (else it would be read on every turn)
        assert not loop.remove_reader(second.inbox.fileno())

    asyncio.run(scenario())
