"""The poll tells this process's own commits (whose hook runs a moment after
the commit is visible) from other processes' changes, so a big zone is not
reloaded for a write it is about to apply anyway."""

from __future__ import annotations

from sqlalchemy import update

from dnsgate.backends.builtin import ZoneChange
from dnsgate.db.models import BuiltinZone
from dnsgate.dnsserver.store import ZoneStore


def set_serial(env, zone: str, serial: int) -> None:
    with env.db.write() as session:
        session.execute(update(BuiltinZone).where(BuiltinZone.name == zone).values(serial=serial))


async def test_own_commit_in_flight_is_not_reloaded_and_others_are(env, world) -> None:
    zone = await world.zone("poll.test")
    store = ZoneStore(env.db)
    store.load_all()
    reloads: list[str] = []
    original = store._reload

    def counting(name: str) -> None:
        reloads.append(name)
        original(name)

    store._reload = counting  # type: ignore[method-assign]
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
