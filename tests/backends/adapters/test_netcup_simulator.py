"""The netcup CCP DNS API simulator, checked from outside.

An independent client, dns-lexicon's netcup provider (pointed at the
simulator with its own ``api_endpoint`` option), lists, creates, updates and
deletes records through it; raw JSON calls check the session lifetime, the
error answers netcup gives, the update semantics and the test controls.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lexicon._private.providers.netcup import Provider as LexiconNetcup
from lexicon.config import ConfigResolver

from tests.fakes.netcup import (
    LOGIN_FAILED_LONG,
    SESSION_LONG,
    SESSION_SHORT,
    TXT_QUOTES_LONG,
    NetcupSimulator,
)

ZONE = "example-shop.de"
RESPONSE_KEYS = {"serverrequestid", "clientrequestid", "action", "status", "statuscode",
                 "shortmessage", "longmessage", "responsedata"}


@pytest.fixture
def sim() -> Iterator[NetcupSimulator]:
    with NetcupSimulator(customer_number="424242") as simulator:
        simulator.add_zone(ZONE, ttl=3600, records=[
            ("@", "A", "192.0.2.80"), ("www", "A", "192.0.2.81"),
            ("@", "MX", "mail.example-shop.de", "10")])
        yield simulator


def lexicon(sim: NetcupSimulator, zone: str = ZONE, **options: Any) -> LexiconNetcup:
    config = ConfigResolver().with_dict({
        "provider_name": "netcup", "domain": zone, **options,
        "netcup": {"auth_customer_id": sim.customer_number, "auth_api_key": sim.api_key,
                   "auth_api_password": options.pop("password", sim.api_password),
                   "api_endpoint": sim.url}})
    return LexiconNetcup(config)


def call(sim: NetcupSimulator, action: str, *, url: str | None = None,
         **param: Any) -> dict[str, Any]:
    response = httpx.post(url or sim.url, json={"action": action, "param": param}, timeout=5)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert set(answer) == RESPONSE_KEYS
    assert answer["status"] in ("success", "error")
    return answer


def login(sim: NetcupSimulator) -> str:
    answer = call(sim, "login", customernumber=sim.customer_number, apikey=sim.api_key,
                  apipassword=sim.api_password)
    assert (answer["status"], answer["statuscode"]) == ("success", 2000)
    session: str = answer["responsedata"]["apisessionid"]
    return session


def in_session(sim: NetcupSimulator, session: str, action: str, **param: Any) -> dict[str, Any]:
    return call(sim, action, customernumber=sim.customer_number, apikey=sim.api_key,
                apisessionid=session, **param)


def by_host(sim: NetcupSimulator, zone: str = ZONE) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in sim.records(zone):
        out.setdefault((rec["hostname"], rec["type"]), []).append(rec)
    return out


# -- an independent client: dns-lexicon --------------------------------------

def test_lexicon_lists_creates_updates_and_deletes(sim: NetcupSimulator) -> None:
    client = lexicon(sim)
    client.authenticate()
    assert client.zone_ttl == "3600"  # infoDnsZone answers numbers as strings

    listed = client.list_records()
    # lexicon joins netcup's apex hostname "@" to the zone as it is: "@.<zone>".
    assert {(r["type"], r["name"], r["content"]) for r in listed} == {
        ("A", f"@.{ZONE}", "192.0.2.80"), ("A", f"www.{ZONE}", "192.0.2.81"),
        ("MX", f"@.{ZONE}", "mail.example-shop.de")}
    assert all(r["ttl"] == "3600" for r in listed)

    name = f"_acme-challenge.www.{ZONE}"
    assert client.create_record("TXT", name, "tok-1")
    created = by_host(sim)[("_acme-challenge.www", "TXT")]
    assert [r["destination"] for r in created] == ["tok-1"]
    assert sim.rdata(ZONE, name, "TXT") == ['"tok-1"']
    assert [r["content"] for r in client.list_records("TXT", name)] == ["tok-1"]
    assert client.create_record("TXT", name, "tok-1")  # lexicon checks first: no duplicate
    assert len(by_host(sim)[("_acme-challenge.www", "TXT")]) == 1

    www = client.list_records("A", f"www.{ZONE}")[0]
    assert client.update_record(www["id"], "A", f"www.{ZONE}", "192.0.2.99")
    after = by_host(sim)[("www", "A")]
    assert [(r["id"], r["destination"]) for r in after] == [(www["id"], "192.0.2.99")]

    assert client.delete_record(None, "TXT", name, "tok-1")
    assert ("_acme-challenge.www", "TXT") not in by_host(sim)
    assert client.list_records("TXT", name) == []
    assert sim.calls["login"] == 1 and sim.calls["infoDnsZone"] == 1


def test_lexicon_mx_priority(sim: NetcupSimulator) -> None:
    client = lexicon(sim, priority=20)
    client.authenticate()
    assert client.create_record("MX", f"shop.{ZONE}", "mx2.example-shop.de")
    [mx] = by_host(sim)[("shop", "MX")]
    assert (mx["priority"], mx["destination"]) == ("20", "mx2.example-shop.de")
    assert sim.rdata(ZONE, f"shop.{ZONE}", "MX") == ["20 mx2.example-shop.de."]


def test_lexicon_cannot_create_at_the_apex(sim: NetcupSimulator) -> None:
    # lexicon drops the empty relative name of the apex instead of sending "@", and
    # netcup refuses the record -- the error YunoHost users report (YunoHost/issues#2513).
    client = lexicon(sim)
    client.authenticate()
    with pytest.raises(Exception, match=r"^der Host darf nicht leer sein .*\(4013\)$"):
        client.create_record("TXT", ZONE, "v=spf1 -all")
    assert ("@", "TXT") not in by_host(sim)


def test_lexicon_sees_netcup_errors(sim: NetcupSimulator) -> None:
    with pytest.raises(Exception, match=r"\(4013\)"):
        lexicon(sim, password="not-the-password").authenticate()
    sim.add_zone("empty-zone.de")
    client = lexicon(sim, zone="empty-zone.de")
    client.authenticate()
    # netcup answers an empty zone with an error, which lexicon passes on (a known issue).
    with pytest.raises(Exception, match=r"\(5029\)"):
        client.list_records()
    with pytest.raises(Exception, match="could not be found"):
        lexicon(sim, zone="not-mine.de").authenticate()


# -- sessions ------------------------------------------------------------------

def test_session_expires_after_inactivity_and_activity_keeps_it(sim: NetcupSimulator) -> None:
    sim.session_timeout = 0.4
    session = login(sim)
    for _ in range(3):  # each call restarts the inactivity clock
        time.sleep(0.2)
        assert in_session(sim, session, "infoDnsZone", domainname=ZONE)["statuscode"] == 2000
    time.sleep(0.6)
    expired = in_session(sim, session, "infoDnsRecords", domainname=ZONE)
    assert (expired["status"], expired["statuscode"]) == ("error", 4001)
    assert (expired["shortmessage"], expired["longmessage"]) == (SESSION_SHORT, SESSION_LONG)
    assert expired["action"] == "infoDnsRecords" and expired["responsedata"] == ""
    assert in_session(sim, login(sim), "infoDnsZone", domainname=ZONE)["statuscode"] == 2000


def test_session_ends_with_logout_and_belongs_to_its_key(sim: NetcupSimulator) -> None:
    session = login(sim)
    other_key = call(sim, "infoDnsZone", customernumber=sim.customer_number, apikey="other",
                     apisessionid=session, domainname=ZONE)
    assert other_key["statuscode"] == 4001
    assert in_session(sim, session, "logout")["statuscode"] == 2000
    assert in_session(sim, session, "infoDnsZone", domainname=ZONE)["statuscode"] == 4001
    session = login(sim)
    sim.expire_sessions()
    assert in_session(sim, session, "infoDnsZone", domainname=ZONE)["statuscode"] == 4001


def test_login_failures(sim: NetcupSimulator) -> None:
    for wrong in ({"apipassword": "nope"}, {"apikey": "nope"}, {"customernumber": "1"}):
        param = {"customernumber": sim.customer_number, "apikey": sim.api_key,
                 "apipassword": sim.api_password, **wrong}
        answer = call(sim, "login", **param)
        assert (answer["status"], answer["statuscode"]) == ("error", 4013)
        assert answer["longmessage"] == LOGIN_FAILED_LONG  # netcup's own misleading text
        assert sim.api_password not in json.dumps(answer)
    assert sim.session_count() == 0


# -- error answers ---------------------------------------------------------------

def test_error_answers(sim: NetcupSimulator) -> None:
    raw = httpx.post(sim.url, content=b"{not json", timeout=5).json()
    assert (raw["statuscode"], raw["action"]) == (4013, "")
    assert raw["longmessage"] == "Api key missing. JSON decode failed while validating request."

    session = login(sim)
    bad = in_session(sim, session, "infoDnsRecords", domainname="_acme-challenge.example.de")
    assert (bad["statuscode"], bad["action"]) == (4013, "")
    assert bad["longmessage"].startswith("Value in field domainname does not match")

    zone = in_session(sim, session, "infoDnsZone", domainname="not-mine.de")
    assert zone["status"] == "error" and zone["statuscode"] == 5026
    records = in_session(sim, session, "infoDnsRecords", domainname="not-mine.de")
    assert records["statuscode"] == 5029 and "could not be found" in records["longmessage"]
    update = in_session(sim, session, "updateDnsRecords", domainname="not-mine.de",
                        dnsrecordset={"dnsrecords": []})
    assert (update["statuscode"], update["longmessage"]) == (
        5028, "Can not update (all) DNS records for zone. The zone not-mine.de could not be "
        "found.")

    sim.add_zone("empty-zone.de")
    empty = in_session(sim, session, "infoDnsRecords", domainname="empty-zone.de")
    assert (empty["statuscode"], empty["shortmessage"]) == (5029, "Getting DNS records failed")
    assert "does not empty-zone.de contain any DNS records" in empty["longmessage"]
    assert in_session(sim, session, "infoDnsZone", domainname="empty-zone.de")["status"] == (
        "success")


@pytest.mark.parametrize(("record", "message"), [
    ({"hostname": "", "type": "A", "destination": "192.0.2.1"}, "der Host darf nicht leer"),
    ({"hostname": "x y", "type": "A", "destination": "192.0.2.1"}, "der Host darf nicht leer"),
    ({"hostname": "a", "type": "PTR", "destination": "x.de"}, "field type"),
    ({"hostname": "a", "type": "A", "destination": "not-an-ip"}, "field destination"),
    ({"hostname": "a", "type": "AAAA", "destination": "192.0.2.1"}, "field destination"),
    ({"hostname": "a", "type": "MX", "destination": "mx.de"}, "field priority"),
    ({"hostname": "a", "type": "TXT", "destination": '"quoted"'}, TXT_QUOTES_LONG),
    ({"hostname": "a", "type": "TXT", "destination": "ends in \\"}, TXT_QUOTES_LONG),
    ({"id": "x1", "hostname": "a", "type": "A", "destination": "192.0.2.1"}, "field id"),
])
def test_a_bad_record_is_refused_and_nothing_written(sim: NetcupSimulator, record: dict[str, Any],
                                                     message: str) -> None:
    before = sim.records(ZONE)
    session = login(sim)
    answer = in_session(sim, session, "updateDnsRecords", domainname=ZONE, dnsrecordset={
        "dnsrecords": [{"hostname": "ok", "type": "A", "destination": "192.0.2.7"}, record]})
    assert (answer["status"], answer["statuscode"]) == ("error", 4013)
    assert message in answer["longmessage"]
    assert sim.records(ZONE) == before


# -- updateDnsRecords semantics ----------------------------------------------------

def test_update_creates_updates_deletes_and_leaves_the_rest(sim: NetcupSimulator) -> None:
    session = login(sim)
    serial = int(in_session(sim, session, "infoDnsZone", domainname=ZONE)["responsedata"]["serial"])
    before = by_host(sim)
    www = before[("www", "A")][0]
    apex_a = before[("@", "A")][0]
    answer = in_session(sim, session, "updateDnsRecords", domainname=ZONE, dnsrecordset={
        "dnsrecords": [
            {"hostname": "new", "type": "AAAA", "destination": "2001:db8::1"},
            {"id": www["id"], "hostname": "www", "type": "A", "destination": "192.0.2.91",
             "deleterecord": False},
            {**apex_a, "deleterecord": True}]})
    assert (answer["statuscode"], answer["shortmessage"]) == (2000,
                                                              "DNS records successful updated")
    listing = answer["responsedata"]["dnsrecords"]
    assert [r["id"] for r in listing] == [r["id"] for r in sim.records(ZONE)]  # the whole zone
    assert {(r["hostname"], r["type"]) for r in listing} == {("www", "A"), ("@", "MX"),
                                                            ("new", "AAAA")}
    states = {r["hostname"]: r["state"] for r in listing}
    assert states == {"www": "unknown", "new": "unknown", "@": "yes"}  # not yet deployed
    after = by_host(sim)
    assert after[("www", "A")][0]["id"] == www["id"]
    assert after[("@", "MX")] == before[("@", "MX")]  # not sent: untouched
    assert all(r["state"] == "yes" for r in sim.records(ZONE))
    zone = in_session(sim, session, "infoDnsZone", domainname=ZONE)["responsedata"]
    assert int(zone["serial"]) > serial
    assert {k: type(v) for k, v in zone.items()} == {
        "name": str, "ttl": str, "serial": str, "refresh": str, "retry": str, "expire": str,
        "dnssecstatus": bool}


def test_an_unknown_id_stops_the_update_after_what_came_before(sim: NetcupSimulator) -> None:
    session = login(sim)
    answer = in_session(sim, session, "updateDnsRecords", domainname=ZONE, dnsrecordset={
        "dnsrecords": [{"hostname": "first", "type": "A", "destination": "192.0.2.1"},
                       {"id": "1", "hostname": "gone", "type": "A", "destination": "192.0.2.2"},
                       {"hostname": "third", "type": "A", "destination": "192.0.2.3"}]})
    assert (answer["status"], answer["statuscode"]) == ("error", 5028)
    assert "id 1 could not be found" in answer["longmessage"]
    hosts = {r["hostname"] for r in sim.records(ZONE)}
    assert "first" in hosts and "third" not in hosts  # not atomic


def test_what_the_name_servers_serve(sim: NetcupSimulator) -> None:
    long_text = "v=DKIM1; p=" + "A" * 300
    sim.add_record(ZONE, "dkim", "TXT", long_text)
    sim.add_record(ZONE, "q", "TXT", 'say \\"hi\\" \\\\ \\255')
    sim.add_record(ZONE, "_sip._tcp", "SRV", "10 60 5060 sip.example-shop.de")
    sim.add_record(ZONE, "alias", "CNAME", "www.example-shop.de.")
    sim.add_record(ZONE, "apex", "CNAME", "@")
    [long_rdata] = sim.rdata(ZONE, f"dkim.{ZONE}", "TXT")
    first, second = long_rdata.split('" "')
    assert len(first) == 256 and second.endswith('"')  # split into 255-octet strings
    assert sim.rdata(ZONE, f"q.{ZONE}", "TXT") == ['"say \\"hi\\" \\\\ \\255"']
    assert sim.rdata(ZONE, f"_sip._tcp.{ZONE}", "SRV") == ["10 60 5060 sip.example-shop.de."]
    assert sim.rdata(ZONE, f"alias.{ZONE}", "CNAME") == ["www.example-shop.de."]
    assert sim.rdata(ZONE, f"apex.{ZONE}", "CNAME") == [f"{ZONE}."]


# -- test controls ------------------------------------------------------------------

def test_faults_counts_and_concurrency(sim: NetcupSimulator) -> None:
    session = login(sim)
    with sim.fault("error"):
        response = httpx.post(sim.url, json={"action": "login", "param": {}}, timeout=5)
        assert response.status_code == 500
    with sim.fault("garbage", actions=["infoDnsRecords"]):
        response = httpx.post(sim.url, json={"action": "infoDnsRecords", "param": {}}, timeout=5)
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()
        assert in_session(sim, session, "infoDnsZone", domainname=ZONE)["statuscode"] == 2000
    with sim.fault("down", times=1):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(sim.url, json={"action": "login", "param": {}}, timeout=5)
        assert login(sim)  # only the first request failed
    sim.reset_calls()
    with (sim.fault("hang", actions=["updateDnsRecords"]),
          concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool):
        hanging = pool.submit(httpx.post, sim.url, timeout=1.0, json={
            "action": "updateDnsRecords", "param": {}})
        served = [pool.submit(in_session, sim, session, "infoDnsRecords", domainname=ZONE)
                  for _ in range(10)]
        assert all(f.result(timeout=5)["statuscode"] == 2000 for f in served)
        with pytest.raises(httpx.ReadTimeout):
            hanging.result(timeout=5)
    assert sim.calls == {"infoDnsRecords": 10, "updateDnsRecords": 1}
    assert len(sim.sent("infoDnsRecords")) == 10


def test_fail_next_injects_one_netcup_error(sim: NetcupSimulator) -> None:
    session = login(sim)
    sim.fail_next("infoDnsZone", 5000, "Internal error", "try again later")
    failed = in_session(sim, session, "infoDnsZone", domainname=ZONE)
    assert (failed["statuscode"], failed["longmessage"]) == (5000, "try again later")
    assert in_session(sim, session, "infoDnsZone", domainname=ZONE)["statuscode"] == 2000


def test_client_request_id_is_echoed(sim: NetcupSimulator) -> None:
    answer = call(sim, "login", customernumber=sim.customer_number, apikey=sim.api_key,
                  apipassword=sim.api_password, clientrequestid="abc123")
    assert answer["clientrequestid"] == "abc123" and answer["action"] == "login"
    assert httpx.get(sim.url.replace("endpoint.php", "other.php"), timeout=5).status_code == 404
