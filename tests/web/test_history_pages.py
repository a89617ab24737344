"""The change history on the realm page and the admin zone page: each change as a
diff (old -> new) with an Undo button; the realm page shows its realm's names
only; an undo over a newer change, or of a change not the page's, changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dnsgate.db import journal
from dnsgate.db.models import Zone
from dnsgate.domain.errors import Conflict, NotFound
from dnsgate.domain.records import RRset
from dnsgate.services import realms
from dnsgate.web import history_view
from tests.support.factories import bearer
from tests.web.conftest import PASSWORD

ZONE = "example.test"
HISTORY = f"/api/v1/zones/{ZONE}/history"


# --- the diff, as a function --------------------------------------------------------

def _entry(old: RRset | None, new: RRset | None, *, old_known: bool = True) -> journal.Entry:
    return journal.Entry(7, 1, 7, "a.example.test", "A", old, new, old_known, "token", "t1",
                         1, 1, "rest", None, datetime(2024, 1, 1, tzinfo=UTC), None)


def _a(ttl: int, *records: str) -> RRset:
    return RRset("a.example.test", "A", ttl, records)


def test_a_diff_keeps_marks_removed_and_added_lines():
    lines = history_view.diff(_a(300, "192.0.2.1", "192.0.2.2"), _a(300, "192.0.2.2",
                                                                        "192.0.2.3"))
    assert [(line.mark, line.text) for line in lines] == [
        ("", "192.0.2.2"), ("-", "192.0.2.1"), ("+", "192.0.2.3")]


@pytest.mark.parametrize(("old", "new", "old_known", "kind", "marks", "ttl", "undoable"), [
    (None, _a(300, "192.0.2.1"), True, "created", ["+"], "300", True),
    (_a(60, "192.0.2.1"), None, True, "deleted", ["-"], "60", True),
    (_a(300, "192.0.2.1"), _a(60, "192.0.2.1"), True, "changed", [""], "300 → 60", True),
    (None, _a(300, "192.0.2.1"), False, "not recorded", [""], "300", False),
])
def test_a_change_says_what_happened(old, new, old_known, kind, marks, ttl, undoable):
    shown = history_view.change(_entry(old, new, old_known=old_known))
    assert (shown.kind, [line.mark for line in shown.lines], shown.ttl, shown.undoable) == (
        kind, marks, ttl, undoable)


@pytest.mark.parametrize(("exc", "status", "words"), [
    (Conflict("x", code="changed_since"), 409, "changed again since"),
    (Conflict("x", code="old_unknown"), 409, "not known"),
    (NotFound("x"), 404, "not in this history"),
])
def test_refusals_in_words(exc, status, words):
    got_status, message = history_view.refusal(exc)
    assert got_status == status and words in message


@pytest.mark.parametrize(("text", "before"), [("42", 42), ("", None), ("0", None),
                                              ("-1", None), ("x", None),
                                              ("99999999999999999999", None)])
def test_a_bad_before_is_the_newest_page(text, before):
    assert history_view.before_of(text) == before


# --- the pages --------------------------------------------------------------------

def rrset_url(name: str, rtype: str) -> str:
    return f"/api/v1/zones/{ZONE}/rrsets/{name}/{rtype}"


async def put(client, key, name, *records, rtype="A", ttl=300):
    response = await client.put(rrset_url(name, rtype), headers=bearer(key),
                                json={"ttl": ttl, "records": list(records)})
    assert response.status_code == 200, response.text


async def records_of(client, key, name, rtype="A") -> list[str] | None:
    response = await client.get(rrset_url(name, rtype), headers=bearer(key))
    return response.json()["records"] if response.status_code == 200 else None


async def entries(client, key, **params) -> list[dict]:
    response = await client.get(HISTORY, params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()["changes"]


def rows(html: str) -> dict[int, str]:
    """The history table's rows by entry id."""
    return {int(m.group(1)): m.group(2)
            for m in re.finditer(r'<tr id="change-(\d+)">(.*?)</tr>', html, re.S)}


def removed(row: str) -> list[str]:
    return re.findall(r"<del>.*?<code>(.*?)</code></del>", row, re.S)


def added(row: str) -> list[str]:
    return re.findall(r"<ins>.*?<code>(.*?)</code></ins>", row, re.S)


def history_error(html: str) -> str:
    found = re.search(r'id="history-error">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


def _realm_id(world, account_id: int, name: str) -> int:
    return next(r.id for r, _ in realms.list_realms(world.env, account_id=account_id)
                if r.name == name)


@pytest.fixture
async def home(world, zone, alice_id) -> int:
    """Alice's subtree realm home.example.test (A, TXT); she also holds the host
    realm shop.example.test in the same zone."""
    world.realm(alice_id, zone, "home", kind="subtree", types=["A", "TXT"])
    world.realm(alice_id, zone, "shop", kind="host", types=["A", "TXT"])
    return _realm_id(world, alice_id, "home.example.test")


async def save(browser, realm_id: int, name: str, records: str, *, rtype="A", ttl="300"):
    await browser.get(f"/ui/realms/{realm_id}")
    response = await browser.submit(f"/ui/realms/{realm_id}/rrsets", {
        "name": name, "type": rtype, "ttl": ttl, "records": records})
    assert response.status_code == 303, response.text


async def test_the_realm_page_shows_its_changes_as_diffs_and_no_others(
        alice_browser, home, world, alice_id, client, admin, browser):
    await save(alice_browser, home, "www", "192.0.2.1\n192.0.2.2")
    await save(alice_browser, home, "www", "192.0.2.2\n192.0.2.3", ttl="60")
    await put(client, admin, "www.example.test", "192.0.2.80")  # outside every realm
    await put(client, admin, "shop.example.test", "192.0.2.90")  # alice's other realm
    await put(client, admin, "homeland.example.test", "192.0.2.91")  # no dot boundary
    created, changed = sorted(e["id"] for e in await entries(client, admin)
                              if e["name"] == "www.home.example.test")
    page = await alice_browser.get(f"/ui/realms/{home}")
    assert page.status_code == 200
    shown = rows(page.text)
    assert list(shown) == [changed, created]  # newest first, nothing else
    assert removed(shown[changed]) == ["192.0.2.1"] and added(shown[changed]) == ["192.0.2.3"]
    assert "<code>192.0.2.2</code>" in shown[changed]  # kept, unmarked
    assert "TTL 300 → 60" in shown[changed] and "via ui" in shown[changed]
    assert "created" in shown[created] and removed(shown[created]) == []
    assert added(shown[created]) == ["192.0.2.1", "192.0.2.2"]
    assert f'action="/ui/realms/{home}/history/{changed}/undo"' in shown[changed]
    for outside in ("www.example.test", "shop.example.test", "homeland.example.test"):
        assert outside not in page.text.split('id="history"', 1)[1]
    shop = await alice_browser.get(f"/ui/realms/{_realm_id(world, alice_id, 'shop.example.test')}")
    assert [e for e in rows(shop.text).values() if "shop.example.test" in e]
    assert "www.home.example.test" not in shop.text
    async with browser() as root:  # an admin on the realm page sees the realm, not the zone
        await root.login("root")
        as_admin = await root.get(f"/ui/realms/{home}")
        assert list(rows(as_admin.text)) == [changed, created]


async def test_a_host_realm_shows_its_attached_names(alice_browser, home, world, alice_id,
                                                     client, admin):
    await put(client, admin, "_acme-challenge.shop.example.test", "token", rtype="TXT")
    await put(client, admin, "_acme-challenge.www.example.test", "other", rtype="TXT")
    shop = await alice_browser.get(f"/ui/realms/{_realm_id(world, alice_id, 'shop.example.test')}")
    (row,) = rows(shop.text).values()
    assert "_acme-challenge.shop.example.test" in row and "via rest" in row


async def test_undo_restores_the_old_value_and_says_so(alice_browser, home, client, admin):
    await save(alice_browser, home, "www", "192.0.2.1")
    await save(alice_browser, home, "www", "192.0.2.2")
    latest = (await entries(client, admin, name="www.home.example.test"))[0]
    undone = await alice_browser.submit(f"/ui/realms/{home}/history/{latest['id']}/undo")
    assert undone.status_code == 303, undone.text
    assert undone.headers["location"] == f"/ui/realms/{home}?done=change_undone"
    assert await records_of(client, admin, "www.home.example.test") == ["192.0.2.1"]
    page = await alice_browser.get(undone.headers["location"])
    assert "The change is undone" in page.text
    newest_id, newest = next(iter(rows(page.text).items()))
    assert newest_id > latest["id"]
    assert removed(newest) == ["192.0.2.2"] and added(newest) == ["192.0.2.1"]


async def test_undo_of_an_older_change_is_refused_and_changes_nothing(alice_browser, home,
                                                                       client, admin):
    await save(alice_browser, home, "www", "192.0.2.1")
    await save(alice_browser, home, "www", "192.0.2.2")
    before = await entries(client, admin)
    older = before[1]
    refused = await alice_browser.submit(f"/ui/realms/{home}/history/{older['id']}/undo")
    assert refused.status_code == 409
    assert history_error(refused.text) == ("This record set changed again since; "
                                           "undo the newer change first.")
    assert await records_of(client, admin, "www.home.example.test") == ["192.0.2.2"]
    assert await entries(client, admin) == before


async def test_undo_of_a_change_not_the_realms_is_not_found(alice_browser, home, browser,
                                                            world, client, admin):
    await put(client, admin, "www.example.test", "192.0.2.80")
    await put(client, admin, "www.example.test", "192.0.2.81")
    theirs = (await entries(client, admin))[0]
    await alice_browser.get(f"/ui/realms/{home}")
    for entry_id in (theirs["id"], 2**40):
        refused = await alice_browser.submit(f"/ui/realms/{home}/history/{entry_id}/undo")
        assert refused.status_code == 404
        assert history_view.NOT_FOUND in refused.text
    assert await records_of(client, admin, "www.example.test") == ["192.0.2.81"]
    await save(alice_browser, home, "www", "192.0.2.1")
    mine = (await entries(client, admin))[0]
    world.account("bob", password=PASSWORD)
    async with browser() as bob:  # another's realm: 404 before any history
        await bob.login("bob")
        posted = await bob.submit(f"/ui/realms/{home}/history/{mine['id']}/undo")
        assert posted.status_code == 404
    assert await records_of(client, admin, "www.home.example.test") == ["192.0.2.1"]


def _blind_write(env, name: str) -> None:
    """A change written without reading the RRset first (as a provider may)."""
    with env.db.write() as session:
        zone_id = session.scalar(select(Zone.id).where(Zone.name == ZONE))
        journal.append(session, zone_id=zone_id, zone=ZONE, steps=[journal.Step(
            name, "A", None, RRset(name, "A", 300, ("192.0.2.5",)), old_known=False)],
            actor=journal.Actor("system", "cli", None, None, "cli", None),
            when=env.clock(), serial=None, builtin=False)


async def test_a_change_with_an_unknown_before_has_no_undo(alice_browser, home, env, client,
                                                           admin):
    _blind_write(env, "www.home.example.test")
    page = await alice_browser.get(f"/ui/realms/{home}")
    ((entry_id, row),) = rows(page.text).items()
    assert "not recorded" in row and "cannot be undone" in row and "/undo" not in row
    refused = await alice_browser.submit(f"/ui/realms/{home}/history/{entry_id}/undo")
    assert refused.status_code == 409 and "cannot be undone" in history_error(refused.text)
    assert len(await entries(client, admin)) == 1


# --- the admin zone page ---------------------------------------------------------

@pytest.fixture
async def root(browser, admin, zone):
    async with browser() as b:
        await b.login("root")
        yield b


async def test_the_admin_zone_page_shows_every_change_and_pages_back(root, home, client, admin,
                                                                     monkeypatch):
    monkeypatch.setattr(history_view, "PAGE_SIZE", 3)
    for index, name in enumerate(["www.example.test", "www.home.example.test",
                                  "shop.example.test", "a.example.test",
                                  "b.example.test", "c.example.test", "d.example.test"]):
        await put(client, admin, name, f"192.0.2.{index + 1}")
    ids = [e["id"] for e in await entries(client, admin)]
    first = await root.get(f"/ui/admin/zones/{ZONE}")
    assert first.status_code == 200
    assert list(rows(first.text)) == ids[:3]
    assert f'href="/ui/admin/zones/{ZONE}?before={ids[2]}#history"' in first.text
    assert "Newest changes" not in first.text
    second = await root.get(f"/ui/admin/zones/{ZONE}", params={"before": ids[2]})
    assert list(rows(second.text)) == ids[3:6] and "Newest changes" in second.text
    last = await root.get(f"/ui/admin/zones/{ZONE}", params={"before": ids[5]})
    assert list(rows(last.text)) == ids[6:] and "Older changes" not in last.text
    assert f'action="/ui/admin/zones/{ZONE}/history/{ids[6]}/undo"' in last.text
    assert "www.example.test" in last.text  # outside every realm: the admin sees it


async def test_undo_as_admin(root, client, admin):
    await put(client, admin, "www.example.test", "192.0.2.1")
    await put(client, admin, "www.example.test", "192.0.2.2", ttl=60)
    newer, older = await entries(client, admin)
    await root.get(f"/ui/admin/zones/{ZONE}")
    refused = await root.submit(f"/ui/admin/zones/{ZONE}/history/{older['id']}/undo")
    assert refused.status_code == 409 and "changed again since" in history_error(refused.text)
    undone = await root.submit(f"/ui/admin/zones/{ZONE}/history/{newer['id']}/undo")
    assert undone.status_code == 303, undone.text
    assert undone.headers["location"] == f"/ui/admin/zones/{ZONE}?done=change_undone"
    response = await client.get(rrset_url("www.example.test", "A"), headers=bearer(admin))
    assert (response.json()["ttl"], response.json()["records"]) == (300, ["192.0.2.1"])
    page = await root.get(undone.headers["location"])
    assert "The change is undone" in page.text
    missing = await root.submit(f"/ui/admin/zones/{ZONE}/history/{2**40}/undo")
    assert missing.status_code == 404 and history_view.NOT_FOUND in missing.text


async def test_only_admins_undo_on_the_admin_page(alice_browser, home, client, admin):
    await put(client, admin, "www.home.example.test", "192.0.2.1")
    (entry,) = await entries(client, admin)
    await alice_browser.get(f"/ui/realms/{home}")
    refused = await alice_browser.submit(f"/ui/admin/zones/{ZONE}/history/{entry['id']}/undo")
    assert refused.status_code == 403
    assert await records_of(client, admin, "www.home.example.test") == ["192.0.2.1"]


async def test_a_provider_that_is_down_is_a_502_page(alice_browser, home, browser, client,
                                                     admin, monkeypatch):
    from dnsgate.domain.errors import BackendUnavailable
    from dnsgate.services import history

    async def down(*args, **kwargs):
        raise BackendUnavailable("provider down")

    await save(alice_browser, home, "www", "192.0.2.1")
    (entry,) = await entries(client, admin)
    monkeypatch.setattr(history, "undo", down)
    refused = await alice_browser.submit(f"/ui/realms/{home}/history/{entry['id']}/undo")
    assert refused.status_code == 502 and "did not answer" in refused.text
    async with browser() as root:
        await root.login("root")
        await root.get(f"/ui/admin/zones/{ZONE}")
        as_admin = await root.submit(f"/ui/admin/zones/{ZONE}/history/{entry['id']}/undo")
        assert as_admin.status_code == 502
        assert "did not answer, so the change was not undone" in history_error(as_admin.text)
    assert await records_of(client, admin, "www.home.example.test") == ["192.0.2.1"]
