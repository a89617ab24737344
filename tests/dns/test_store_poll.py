"""The poll tells this process's own commits (whose hook runs a moment after
the commit is visible) from other processes' changes, so a big zone is not
reloaded for a write it is about to apply anyway."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

import dns.name
import dns.rdatatype
from sqlalchemy import update

from dnsgate.backends.builtin import ZoneChange
from dnsgate.db.models import BuiltinZone
from dnsgate.dnsserver.store import ZoneStore
from dnsgate.domain.records import Delete, Upsert, parsed_rrset


def set_serial(env, zone: str, serial: int) -> None:
    with env.db.write() as session:
        session.execute(update(BuiltinZone).where(BuiltinZone.name == zone).values(serial=serial))


def counted_store(env) -> tuple[ZoneStore, list[str]]:
    """A loaded store, and the list of zones it reloads from now on."""
    store = ZoneStore(env.db)
    store.load_all()
    reloads: list[str] = []
    original = store._reload

    def counting(name: str) -> None:
        reloads.append(name)
        original(name)

    store._reload = counting  # type: ignore[method-assign]
    return store, reloads


async def test_own_commit_in_flight_is_not_reloaded_and_others_are(env, world) -> None:
    zone = await world.zone("poll.test")
    store, reloads = counted_store(env)
    (view,) = store.views.values()
    start = view.serial

    set_serial(env, zone, start + 1)  # our commit, its hook not run yet
    assert store.poll() == [] and reloads == []
    store.apply([ZoneChange(zone, start + 1, start, changes=())])  # the hook runs
    assert store.poll() == [] and reloads == []
    set_serial(env, zone, start + 2)  # in flight again under load
    assert store.poll() == [] and reloads == []
    store.apply([ZoneChange(zone, start + 2, start + 1, changes=())])
    assert store.poll() == [] and reloads == []

    set_serial(env, zone, start + 5)  # another process wrote
    assert store.poll() == []  # one look could still be our own
    assert store.poll() == [zone] and reloads == [zone]
    assert next(iter(store.views.values())).serial == start + 5


async def test_a_commit_landing_after_the_polls_read_is_not_taken_for_another_process(
        env, world) -> None:
    """Committing threads move the views on while the poll reads the database: a
    view newer than that read is ours, not a reason to reload the zone."""
    zone = await world.zone("race.test")
    store, reloads = counted_store(env)
    original_read = env.db.read
    (view,) = store.views.values()
    start = view.serial

    @contextmanager
    def read_then_commit():
        with original_read() as session:
            yield session
        set_serial(env, zone, start + 1)  # our next commit, right after the poll's read
        store.apply([ZoneChange(zone, start + 1, start, changes=())])

    env.db.read = read_then_commit
    try:
        assert store.poll() == []
    finally:
        env.db.read = original_read
    assert reloads == [] and view.serial == start + 1
    assert store.poll() == [] and reloads == []


async def test_staged_changes_are_answered_with_the_last_write_of_each_rrset(env, world):
    zone = await world.zone("staged.test")
    store = ZoneStore(env.db)
    store.load_all()
    store.loop = asyncio.get_running_loop()  # serving: changes are staged, not built
    (view,) = store.views.values()
    serial = view.serial

    def commit(*changes) -> None:
        nonlocal serial
        store.apply([ZoneChange(zone, serial + 1, serial, changes=changes)])
        serial += 1

    owner = f"h.{zone}"
    for last_octet in range(1, 6):
        commit(Upsert(parsed_rrset(owner, "A", 60, [f"192.0.2.{last_octet}"])))
    commit(Upsert(parsed_rrset(owner, "TXT", 60, ["kept"])))
    commit(Upsert(parsed_rrset(f"gone.{zone}", "A", 60, ["192.0.2.9"])),
           Delete(f"gone.{zone}", "A"))
    assert view.nodes.get(dns.name.from_text(owner)) is None  # nothing built yet

    with store.reading() as views:
        view = views[dns.name.from_text(zone)]
        node = view.nodes[dns.name.from_text(owner)]
        assert [rd.to_text() for rd in node[dns.rdatatype.A]] == ["192.0.2.5"]
        assert [rd.to_text() for rd in node[dns.rdatatype.TXT]] == ['"kept"']
        assert not view.exists(dns.name.from_text(f"gone.{zone}"))
        assert view.soa[0].serial == serial == view.serial
