"""services.shared_table: the rate limits' table in memory shared by forked workers."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from dnsgate.throttling.shared_table import SharedTable

FORK = multiprocessing.get_context("fork")
SMALL = 16  # one probe run covers the whole table: every key may take every slot


def test_a_key_keeps_its_due_time_until_it_is_put_again():
    table = SharedTable(1024)
    assert table.due("a") is None
    table.put("a", 0.0, 5.0)
    table.put("b", 0.0, 7.0)
    assert (table.due("a"), table.due("b")) == (5.0, 7.0)
    table.put("a", 1.0, 9.0)
    assert table.due("a") == 9.0


def test_a_full_table_forgets_the_key_due_soonest():
    table = SharedTable(SMALL)
    for index in range(SMALL):
        table.put(f"k{index}", 0.0, 100.0 + index)  # all live, k0 due first
    table.put("newcomer", 0.0, 500.0)
    assert table.due("newcomer") == 500.0
    assert table.due("k0") is None
    assert [table.due(f"k{index}") for index in range(1, SMALL)] == [
        100.0 + index for index in range(1, SMALL)]
    table.put("another", 0.0, 500.0)  # and then the next due
    assert table.due("k1") is None
    assert table.due("newcomer") == 500.0


def test_records_past_their_due_time_make_room_before_live_ones():
    table = SharedTable(SMALL)
    for index in range(SMALL):  # even keys are due at 10, odd ones at 100
        table.put(f"k{index}", 0.0, 10.0 if index % 2 == 0 else 100.0)
    now = 50.0
    for index in range(SMALL // 2):
        table.put(f"new{index}", now, 200.0)
    assert all(table.due(f"new{index}") == 200.0 for index in range(SMALL // 2))
    assert all(table.due(f"k{index}") is None for index in range(0, SMALL, 2))
    assert all(table.due(f"k{index}") == 100.0 for index in range(1, SMALL, 2))


def test_a_past_due_record_is_kept_until_its_slot_is_wanted():
    table = SharedTable(SMALL)
    table.put("idle", 0.0, 10.0)
    table.put("busy", 50.0, 60.0)  # a free slot was there: "idle" stays
    assert table.due("idle") == 10.0


def test_a_forked_worker_writes_what_the_others_read():
    table = SharedTable(1024)
    worker = FORK.Process(target=table.put, args=("token-1", 0.0, 42.0))
    worker.start()
    worker.join(timeout=30)
    assert worker.exitcode == 0
    assert table.due("token-1") == 42.0


# --- a worker killed while it holds the lock --------------------------------

def _hold_for_ever(table: SharedTable, holding) -> None:
    table.lock.acquire()
    holding.set()
    time.sleep(600)  # until SIGKILL


def _wait_then_write(table: SharedTable, waiting, key: str) -> None:
    waiting.set()
    with table.lock:
        table.put(key, 0.0, 1.0)
    os._exit(0 if table.lock.owner_deaths == 1 else 3)  # it took over a dead holder's lock


def _kill(process) -> None:
    if process.is_alive():
        os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=10)


def test_a_worker_killed_holding_the_lock_stops_nobody():
    table = SharedTable(1024)
    holding, waiting = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold_for_ever, args=(table, holding))
    survivor = FORK.Process(target=_wait_then_write, args=(table, waiting, "survivor"))
    try:
        holder.start()
        assert holding.wait(timeout=30)
        survivor.start()  # blocks on the held lock ...
        assert waiting.wait(timeout=30)
        time.sleep(0.2)
        assert survivor.is_alive()  # ... for as long as the holder lives
        os.kill(holder.pid, signal.SIGKILL)  # the OOM killer's way: no cleanup runs
        holder.join(timeout=10)
        survivor.join(timeout=30)
        assert not survivor.is_alive(), "the survivor deadlocked on a dead worker's lock"
        assert survivor.exitcode == 0
        with table.lock:  # and everyone after it goes on as usual
            assert table.due("survivor") == 1.0
            table.put("parent", 0.0, 2.0)
        assert table.lock.owner_deaths == 0  # taken over once, by the survivor
    finally:
        _kill(holder)
        _kill(survivor)


def test_a_lock_left_by_a_dead_worker_is_taken_by_the_next_one():
    table = SharedTable(1024)
    holding = FORK.Event()
    holder = FORK.Process(target=_hold_for_ever, args=(table, holding))
    try:
        holder.start()
        assert holding.wait(timeout=30)
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(timeout=10)
        with table.lock:  # nobody was waiting: the next to come takes it over
            table.put("after", 0.0, 3.0)
        assert table.lock.owner_deaths == 1
        with table.lock:
            assert table.due("after") == 3.0
        assert table.lock.owner_deaths == 1  # consistent again: once only
    finally:
        _kill(holder)


@pytest.mark.parametrize("size", [1, 3, SMALL])
def test_tables_smaller_than_a_probe_run_work(size):
    table = SharedTable(size)
    for index in range(size + 2):  # more keys than slots: the oldest go
        table.put(f"k{index}", 0.0, float(index))
    kept = [index for index in range(size + 2) if table.due(f"k{index}") is not None]
    assert kept == list(range(2, size + 2))
