"""Activity (my audit events), the admin audit log, their CSV, and the dashboards'
chart numbers: all views over the same audit events."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from dnsgate.services import audit
from dnsgate.services.context import RequestContext
from tests.support.factories import bearer
from tests.web.conftest import PASSWORD


async def _put(client, token: str, name: str, value: str) -> None:
    response = await client.put(f"/api/v1/zones/example.test/rrsets/{name}/A",
                                headers=bearer(token), json={"records": [value]})
    assert response.status_code == 200, response.text


async def _setup(world, zone):
    alice = world.account("alice", password=PASSWORD)
    bob = world.account("bob", password=PASSWORD)
    world.account("root", admin=True, password=PASSWORD)
    a_token = world.token(world.realm(alice, zone, "home"))
    b_token = world.token(world.realm(bob, zone, "bobs"))
    return alice, bob, a_token, b_token


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_activity_shows_only_my_events_and_filters(browser, world, zone, client):
    _, _, a_token, b_token = await _setup(world, zone)
    await _put(client, a_token.secret, "home.example.test", "192.0.2.1")
    await _put(client, b_token.secret, "bobs.example.test", "192.0.2.2")
    denied = await client.put("/api/v1/zones/example.test/rrsets/www.example.test/A",
                              headers=bearer(a_token.secret), json={"records": ["192.0.2.9"]})
    assert denied.status_code == 403
    async with browser() as b:
        await b.login("alice")
        page = await b.get("/ui/activity")
        assert page.status_code == 200
        assert "home.example.test" in page.text and "www.example.test" in page.text
        assert "bobs.example.test" not in page.text
        assert "Activity" in page.text and 'href="/ui/activity"' in page.text
        only_denied = await b.get("/ui/activity", params={"outcome": "denied"})
        assert "www.example.test" in only_denied.text
        assert "home.example.test" not in only_denied.text
        by_token = await b.get("/ui/activity", params={"token": a_token.id,
                                                       "action": "rrset.create"})
        assert "home.example.test" in by_token.text and "www.example.test" not in by_token.text
        # another's token id as a filter: still only my events, so nothing
        theirs = await b.get("/ui/activity", params={"token": b_token.id})
        assert "bobs.example.test" not in theirs.text and "No events match." in theirs.text
        exported = await b.get("/ui/activity.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = _rows(exported.text)
    assert {(r["action"], r["name"], r["outcome"]) for r in rows} >= {
        ("rrset.create", "home.example.test", "success"),
        ("rrset.update", "www.example.test", "denied")}
    assert all(r["account"] == "alice" for r in rows)
    assert not any("bobs" in r["name"] for r in rows)
    assert {r["surface"] for r in rows if r["action"].startswith("rrset.")} == {"api"}


async def test_filters_are_checked_and_kept(alice_browser):
    bad = await alice_browser.get("/ui/activity", params={"since": "yesterday",
                                                          "outcome": "maybe",
                                                          "zone": "bad..zone"})
    assert bad.status_code == 422
    assert "Enter a date as YYYY-MM-DD." in bad.text
    assert "Choose success, denied or error." in bad.text
    assert 'value="bad..zone"' in bad.text and 'value="yesterday"' in bad.text
    backwards = await alice_browser.get("/ui/activity", params={"since": "2026-05-02",
                                                                "until": "2026-05-01"})
    assert backwards.status_code == 422 and "must not be before" in backwards.text
    csv_bad = await alice_browser.get("/ui/activity.csv", params={"since": "x"})
    assert csv_bad.status_code == 422 and "text/html" in csv_bad.headers["content-type"]


async def test_time_range_and_paging(browser, world, env, clock, alice_id):
    caller = world.caller(alice_id)
    day0 = clock()
    for i in range(60):
        with env.db.write() as session:
            audit.record(session, RequestContext(surface="web"), caller=caller,
                         action="token.create", when=day0, target=f"t{i:02d}")
    clock.advance(3 * 86400)
    with env.db.write() as session:
        audit.record(session, RequestContext(surface="web"), caller=caller,
                     action="token.revoke", when=clock(), target="later")
    async with browser() as b:
        await b.login("alice")
        first = await b.get("/ui/activity", params={"action": "token.create"})
        targets = re.findall(r"<td data-label=\"Record\">(t\d\d)</td>", first.text)
        assert targets == [f"t{i:02d}" for i in range(59, 9, -1)]
        older = re.search(r'href="/ui/activity\?([^"]+)">Older events', first.text)
        assert older
        second = await b.get("/ui/activity?" + older.group(1).replace("&amp;", "&"))
        assert re.findall(r"<td data-label=\"Record\">(t\d\d)</td>", second.text) == [
            f"t{i:02d}" for i in range(9, -1, -1)]
        assert "Older events" not in second.text and "Newest events" in second.text
        today = clock().strftime("%Y-%m-%d")
        recent = await b.get("/ui/activity", params={"since": today})
        assert "later" in recent.text and "t00" not in recent.text
        early = await b.get("/ui/activity", params={"until": day0.strftime("%Y-%m-%d")})
        assert "later" not in early.text and "t59" in early.text
        everything = _rows((await b.get("/ui/activity.csv")).text)
    assert len([r for r in everything if r["action"] == "token.create"]) == 60


async def test_csv_escapes_quotes_and_formulas(alice_browser, world, env, alice_id):
    caller = world.caller(alice_id)
    with env.db.write() as session:
        audit.record(session, RequestContext(user_agent='=HYPERLINK("x")', surface="web"),
                     caller=caller, action="token.create", when=env.clock(),
                     target='+a,"b"\nc', details={"label": "@SUM(1)", "n": "-2"})
    text = (await alice_browser.get("/ui/activity.csv")).text
    (row,) = [r for r in _rows(text) if r["action"] == "token.create"]
    assert row["user_agent"] == "'=HYPERLINK(\"x\")"
    assert row["target"] == "'+a,\"b\"\nc"  # quoted by the CSV writer, kept whole
    assert row["details"] == '{"label": "@SUM(1)", "n": "-2"}'  # JSON starts with {
    assert row["surface"] == "web"


async def test_admin_audit_log_filters_by_account(browser, world, zone, client):
    _, _, a_token, b_token = await _setup(world, zone)
    await _put(client, a_token.secret, "home.example.test", "192.0.2.1")
    await _put(client, b_token.secret, "bobs.example.test", "192.0.2.2")
    async with browser() as b:
        await b.login("root")
        everything = await b.get("/ui/admin/audit")
        assert everything.status_code == 200
        assert "home.example.test" in everything.text and "bobs.example.test" in everything.text
        only_bob = await b.get("/ui/admin/audit", params={"account": "bob"})
        assert "bobs.example.test" in only_bob.text and "home.example.test" not in only_bob.text
        nobody = await b.get("/ui/admin/audit", params={"account": "nobody"})
        assert nobody.status_code == 422 and "There is no account named nobody." in nobody.text
        rows = _rows((await b.get("/ui/admin/audit.csv", params={"zone": "example.test",
                                                                 "outcome": "success"})).text)
    names = {r["name"]: r["account"] for r in rows if r["action"] == "rrset.create"}
    assert names == {"home.example.test": "alice", "bobs.example.test": "bob"}


def _chart(html: str, title: str) -> dict[str, list[int]]:
    """The chart's table: period -> numbers, as the page shows them."""
    table = html.split(f"<summary>{title} as a table</summary>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row" data-label="Period">([^<]+)</th>(.*?)</tr>', table)
    return {period: [int(v) for v in re.findall(r">(\d+)</td>", cells)]
            for period, cells in rows}


async def test_dashboard_chart_counts_the_events(browser, world, zone, client, clock):
    _, _, a_token, b_token = await _setup(world, zone)
    first_day = clock().strftime("%Y-%m-%d")
    await _put(client, a_token.secret, "home.example.test", "192.0.2.1")
    await _put(client, a_token.secret, "home.example.test", "192.0.2.2")
    await _put(client, b_token.secret, "bobs.example.test", "192.0.2.2")  # bob's
    clock.advance(86400)
    second_day = clock().strftime("%Y-%m-%d")
    await _put(client, a_token.secret, "home.example.test", "192.0.2.3")
    for _ in range(2):
        refused = await client.put("/api/v1/zones/example.test/rrsets/www.example.test/A",
                                   headers=bearer(a_token.secret),
                                   json={"records": ["192.0.2.9"]})
        assert refused.status_code == 403
    async with browser() as b:
        await b.login("alice")
        page = await b.get("/ui/")
    numbers = _chart(page.text, "Updates and denials per day")
    assert len(numbers) == 14
    assert numbers[first_day] == [2, 0] and numbers[second_day] == [1, 2]
    assert sum(sum(v) for v in numbers.values()) == 5
    assert "updates: 3" in page.text and "denials: 2" in page.text
    assert 'role="img" aria-label="Updates and denials per day' in page.text
    assert page.text.count('<td data-label="Action">') <= 10  # recent activity
    assert "bobs.example.test" not in page.text


async def test_admin_overview_counts_by_surface(browser, world, zone, client):
    _, _, a_token, _ = await _setup(world, zone)
    await _put(client, a_token.secret, "home.example.test", "192.0.2.1")
    checked = await client.get("/nic/update", params={"hostname": "www.example.test",
                                                      "myip": "192.0.2.5"},
                               auth=("x", a_token.secret))
    assert checked.status_code == 200 and checked.text.startswith(("nohost", "badauth",
                                                                   "abuse", "!yours")), \
        checked.text
    today = world.env.clock().strftime("%Y-%m-%d")
    async with browser() as b:
        await b.login("alice")
        await b.get("/ui/realms/999999")  # a web denial (404, audited)
        await b.login("root")
        page = await b.get("/ui/admin/")
    assert page.status_code == 200
    surfaces = _chart(page.text, "Requests per day by surface")
    labels = ["REST API", "dyndns2", "acme-dns", "httpreq", "PowerDNS API", "Web UI", "CLI"]
    header = page.text.split("<summary>Requests per day by surface as a table</summary>")[1]
    assert re.findall(r'<th scope="col">([^<]+)</th>', header.split("</thead>")[0])[1:8] == labels
    assert surfaces[today][0] == 1  # the REST PUT
    assert surfaces[today][1] == 1  # the refused dyndns2 update
    assert surfaces[today][5] >= 3  # sign-ins and the refused page
    assert "Nothing waits for approval." in page.text
    assert "builtin" in page.text  # backend health
    assert "www.example.test" in page.text  # a recent denial
    assert 'href="/ui/admin/"' in page.text and ">Overview<" in page.text


def test_hourly_buckets_count_in_sql(env, world, alice_id, clock):
    from dnsgate.services import audit_stats

    caller = world.caller(alice_id)
    two_hours_ago = clock() - timedelta(hours=2)
    for when, outcome in ((two_hours_ago, "success"), (clock(), "denied"),
                          (clock() - timedelta(days=2), "success")):
        with env.db.write() as session:
            audit.record(session, RequestContext(), caller=caller, action="rrset.update",
                         when=when, outcome=outcome)
    span = audit_stats.window(clock(), "hour", 24)
    counts = audit_stats.updates_and_denials(env, account_id=alice_id, span=span)
    assert len(counts) == 24 and span.buckets[-1] == clock().strftime("%Y-%m-%d %H")
    assert counts[two_hours_ago.strftime("%Y-%m-%d %H")] == {"updates": 1, "denials": 0}
    assert counts[span.buckets[-1]] == {"updates": 0, "denials": 1}
    assert sum(c["updates"] + c["denials"] for c in counts.values()) == 2
