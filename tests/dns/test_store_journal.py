"""The zone store follows the change journal: this process's entries go in as
they commit, a missed entry sends it to the journal (not to a whole reload),
and the poll finds what no wake-up announced."""

from __future__ import annotations

import asyncio

import dns.name
import dns.rdatatype
from sqlalchemy import delete

from dnsgate.db import journal
from dnsgate.db.models import ZoneChange
from dnsgate.dnsserver.store import ZoneStore
from tests.dns.conftest import put


def counted_store(env) -> tuple[ZoneStore, list[str]]:
    """A loaded store that no commit reaches, and the zones it reads whole from now on."""
    store = ZoneStore(env.db)
    store.load_all()
    reloads: list[str] = []
    original = store._reload

    def counting(name: str) -> None:
        reloads.append(name)
        original(name)

    store._reload = counting  # type: ignore[method-assign]
    return store, reloads


def answer(store: ZoneStore, zone: str, owner: str, rtype: str = "A") -> list[str]:
    with store.reading() as views:
        node = views[dns.name.from_text(zone)].nodes.get(dns.name.from_text(owner), {})
        rrset = node.get(dns.rdatatype.from_text(rtype))
        return sorted(rd.to_text() for rd in rrset) if rrset is not None else []


def catch_appended(env) -> list[journal.Appended]:
    """Every journal entry this process commits from now on (as the DNS hook sees it)."""
    seen: list[journal.Appended] = []
    env.db.on_commit(lambda info: seen.extend(info.get(journal.APPENDED, ())))
    return seen


async def test_entries_that_follow_on_are_staged_and_the_last_write_of_each_rrset_wins(
        env, world) -> None:
    zone = await world.zone("staged.test")
    store, reloads = counted_store(env)
    store.loop = asyncio.get_running_loop()  # serving: changes are staged, not built
    appended = catch_appended(env)
    owner = f"h.{zone}"
    for last_octet in range(1, 6):
        await put(env, zone, "h", "A", [f"192.0.2.{last_octet}"])
    await put(env, zone, "h", "TXT", ["kept"])
    await put(env, zone, "gone", "A", ["192.0.2.9"])
    from dnsgate.services import records
    from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
    from dnsgate.services.records import ChangeInput
    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone,
                                inputs=[ChangeInput("delete", f"gone.{zone}", "A")])
    store.take(appended)
    (view,) = store._views.values()
    assert view.nodes.get(dns.name.from_text(owner)) is None  # nothing built yet
    assert answer(store, zone, owner) == ["192.0.2.5"]
    assert answer(store, zone, owner, "TXT") == ['"kept"']
    with store.reading() as views:
        view = views[dns.name.from_text(zone)]
        assert not view.exists(dns.name.from_text(f"gone.{zone}"))
        assert view.seq == appended[-1].last_seq == 8
        assert view.soa[0].serial == appended[-1].serial == view.serial
    assert store._wanted == {} and reloads == []


async def test_a_missed_entry_sends_the_store_to_the_journal_not_to_a_reload(env, world):
    zone = await world.zone("gap.test")
    store, reloads = counted_store(env)
    appended = catch_appended(env)
    await put(env, zone, "a", "A", ["192.0.2.1"])  # this one's hook never reaches the store
    await put(env, zone, "b", "A", ["192.0.2.2"])
    store.take(appended[1:])  # follows entry 1, which the view has not seen
    assert answer(store, zone, f"a.{zone}") == ["192.0.2.1"]
    assert answer(store, zone, f"b.{zone}") == ["192.0.2.2"]
    assert reloads == []
    store.take(appended[:1])  # the overtaken hook comes late: nothing to do
    assert answer(store, zone, f"a.{zone}") == ["192.0.2.1"] and reloads == []


async def test_the_poll_finds_a_change_no_wakeup_announced(env, world) -> None:
    zone = await world.zone("poll.test")
    store, reloads = counted_store(env)
    assert store.poll() == []
    await put(env, zone, "x", "A", ["192.0.2.7"])  # another process, say: no hook here
    assert answer(store, zone, f"x.{zone}") == []
    assert store.poll() == [zone]
    assert answer(store, zone, f"x.{zone}") == ["192.0.2.7"]
    assert reloads == []  # read forward, not reloaded
    assert store.poll() == []


async def test_a_journal_pruned_past_the_view_reads_the_zone_whole(env, world) -> None:
    zone = await world.zone("pruned.test")
    store, reloads = counted_store(env)
    await put(env, zone, "x", "A", ["192.0.2.1"])
    await put(env, zone, "x", "A", ["192.0.2.2"])
    with env.db.write() as session:
        session.execute(delete(ZoneChange).where(ZoneChange.seq == 1))
    assert store.poll() == [zone]
    assert reloads == [zone]
    assert answer(store, zone, f"x.{zone}") == ["192.0.2.2"]


async def test_a_zone_created_and_deleted_elsewhere_is_found_by_the_poll(env, world) -> None:
    store, _ = counted_store(env)
    zone = await world.zone("late.test")  # made after the store loaded
    assert zone in store.poll()
    assert dns.name.from_text(zone) in store.views
    await env.backends.builtin().delete_zone(zone)  # no DNS hook in this test
    assert zone in store.poll()
    assert dns.name.from_text(zone) not in store.views
