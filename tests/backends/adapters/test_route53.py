"""Route 53 adapter behaviour beyond the contract, on moto_server: one change
batch per change set, a refused batch changes nothing, the hosted zone id is
looked up once, alias and routing-policy sets are neither read nor clobbered,
wildcards and octal escapes round-trip, writes are never retried, and the
configuration is validated without echoing values or secrets."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from dnsgate.backends import registry
from dnsgate.backends.base import secret_fields
from dnsgate.backends.route53 import Route53Backend, Route53Config
from dnsgate.backends.route53_records import decode_name, from_route53, to_route53
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    InvalidInput,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import Delete, RRset, Upsert, canonical_records
from tests.backends.providers import route53 as harness_module
from tests.backends.providers.route53 import Route53Harness
from tests.support.moto import from_harness, operation

_NS = "{https://route53.amazonaws.com/doc/2013-04-01/}"


@pytest.fixture(scope="module")
def r53(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Route53Harness]:
    started = harness_module.start(tmp_path_factory.mktemp("route53-adapter"))
    try:
        yield started
    finally:
        started.stop()


def config_of(raw: dict[str, Any]) -> Route53Config:
    parsed = registry.parse_config("route53", raw)
    assert isinstance(parsed, Route53Config)
    return parsed


@pytest.fixture
async def backend(r53: Route53Harness) -> AsyncIterator[Route53Backend]:
    opened = Route53Backend(config_of(r53.config()))
    try:
        yield opened
    finally:
        await opened.aclose()


def rrset(name: str, rtype: str, records: Sequence[str], ttl: int = 300) -> RRset:
    return RRset(name, rtype, ttl, canonical_records(rtype, records))


class Upstream:
    """What the adapter (not the harness) sent to moto since this was made."""

    def __init__(self, harness: Route53Harness) -> None:
        self.harness = harness
        self.mark = len(harness.moto.requests())

    def entries(self) -> list[dict[str, Any]]:
        return [e for e in self.harness.moto.requests()[self.mark:] if not from_harness(e)]

    def operations(self) -> list[str]:
        return [operation(e) for e in self.entries()]

    def change_batches(self) -> list[list[tuple[str, str, str]]]:
        """(action, name, type) of every change of every ChangeResourceRecordSets."""
        out = []
        for entry in self.entries():
            if operation(entry) != "ChangeResourceRecordSets":
                continue
            body = entry["body"]
            raw = base64.b64decode(body) if entry["body_encoded"] else body.encode()
            root = ET.fromstring(raw)
            out.append([(c.findtext(f"{_NS}Action") or "",
                         c.findtext(f"{_NS}ResourceRecordSet/{_NS}Name") or "",
                         c.findtext(f"{_NS}ResourceRecordSet/{_NS}Type") or "")
                        for c in root.iter(f"{_NS}Change")])
        return out


# -- one change batch per change set -------------------------------------------


async def test_one_change_batch_per_apply(r53: Route53Harness,
                                          backend: Route53Backend) -> None:
    zone = r53.new_zone()
    await backend.apply(zone, [Upsert(rrset(f"old.{zone}", "A", ["192.0.2.1"]))])
    seen = Upstream(r53)
    await backend.apply(zone, [
        Upsert(rrset(f"a.{zone}", "A", ["192.0.2.10"])),
        Upsert(rrset(f"a.{zone}", "AAAA", ["2001:db8::10"])),
        Upsert(rrset(f"b.{zone}", "TXT", ["hello"])),
        Delete(f"old.{zone}", "A"),
        Delete(f"never.{zone}", "A"),  # absent: no DELETE is sent for it
    ])
    ops = seen.operations()
    assert ops.count("ChangeResourceRecordSets") == 1, ops
    assert set(ops) <= {"ListResourceRecordSets", "ChangeResourceRecordSets"}, ops
    assert ops[-1] == "ChangeResourceRecordSets"
    [batch] = seen.change_batches()
    assert sorted(batch) == sorted([
        ("UPSERT", f"a.{zone}.", "A"), ("UPSERT", f"a.{zone}.", "AAAA"),
        ("UPSERT", f"b.{zone}.", "TXT"), ("DELETE", f"old.{zone}.", "A")])
    assert r53.lookup(zone, f"a.{zone}", "A") == ["192.0.2.10"]
    assert r53.lookup(zone, f"b.{zone}", "TXT") == ['"hello"']
    assert r53.lookup(zone, f"old.{zone}", "A") == []


async def test_deleting_only_absent_sets_sends_no_change(r53: Route53Harness,
                                                        backend: Route53Backend) -> None:
    zone = r53.new_zone()
    seen = Upstream(r53)
    await backend.apply(zone, [Delete(f"ghost.{zone}", "A"), Delete(f"ghost.{zone}", "TXT")])
    assert "ChangeResourceRecordSets" not in seen.operations()


async def test_delete_repeats_the_set_as_route53_holds_it(r53: Route53Harness,
                                                         backend: Route53Backend) -> None:
    # Written outside dnsgate with another TTL and value order: the DELETE must
    # still match it exactly, or Route 53 refuses it.
    zone = r53.new_zone()
    r53.route53.change_resource_record_sets(HostedZoneId=r53.zone_ids[zone], ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"outside.{zone}.", "Type": "A", "TTL": 42,
            "ResourceRecords": [{"Value": "192.0.2.9"}, {"Value": "192.0.2.8"}]}}]})
    assert [rr.ttl for rr in await backend.read(zone, f"outside.{zone}", "A")] == [42]
    await backend.apply(zone, [Delete(f"outside.{zone}", "A")])
    assert r53.lookup(zone, f"outside.{zone}", "A") == []


async def test_last_change_of_a_key_wins(r53: Route53Harness, backend: Route53Backend) -> None:
    zone = r53.new_zone()
    name = f"twice.{zone}"
    await backend.apply(zone, [Upsert(rrset(name, "A", ["192.0.2.1"])), Delete(name, "A"),
                               Upsert(rrset(name, "A", ["192.0.2.2"]))])
    assert r53.lookup(zone, name, "A") == ["192.0.2.2"]


async def test_a_batch_route53_refuses_changes_nothing(r53: Route53Harness,
                                                       backend: Route53Backend) -> None:
    zone = r53.new_zone()
    await backend.apply(zone, [Upsert(rrset(f"keep.{zone}", "A", ["192.0.2.1"]))])
    # Route 53 allows 1,000 values per batch and counts an UPSERT's twice:
    # six sets of 100 are refused as a whole.
    many = [Upsert(rrset(f"big{i}.{zone}", "A", [f"198.51.100.{j}" for j in range(100)]))
            for i in range(6)]
    seen = Upstream(r53)
    with pytest.raises(InvalidRecord, match="Route 53 refused the change"):
        await backend.apply(zone, [Upsert(rrset(f"keep.{zone}", "A", ["192.0.2.99"])),
                                   Delete(f"keep.{zone}", "TXT"), *many])
    assert seen.operations().count("ChangeResourceRecordSets") == 1
    assert r53.lookup(zone, f"keep.{zone}", "A") == ["192.0.2.1"]
    for i in range(6):
        assert r53.lookup(zone, f"big{i}.{zone}", "A") == []


# -- hosted zone ids -----------------------------------------------------------


async def test_hosted_zone_id_is_looked_up_once(r53: Route53Harness,
                                                backend: Route53Backend) -> None:
    zone = r53.new_zone()
    seen = Upstream(r53)
    for i in range(5):
        await backend.apply(zone, [Upsert(rrset(f"h{i}.{zone}", "A", [f"192.0.2.{i + 1}"]))])
        await backend.read(zone, f"h{i}.{zone}", "A")
    await backend.read(zone)
    ops = seen.operations()
    assert ops.count("ListHostedZonesByName") == 1, ops
    assert ops.count("ChangeResourceRecordSets") == 5


async def test_pinned_hosted_zone_id_needs_no_lookup(r53: Route53Harness) -> None:
    zone = r53.new_zone()
    pinned = Route53Backend(config_of({**r53.config(), "hosted_zone_ids": {
        zone.upper() + ".": "/hostedzone/" + r53.zone_ids[zone]}}))
    seen = Upstream(r53)
    try:
        await pinned.apply(zone, [Upsert(rrset(f"p.{zone}", "A", ["192.0.2.5"]))])
        assert [rr.records for rr in await pinned.read(zone, f"p.{zone}", "A")] == [
            ("192.0.2.5",)]
    finally:
        await pinned.aclose()
    assert "ListHostedZonesByName" not in seen.operations()


async def test_public_zone_wins_over_a_private_one(r53: Route53Harness,
                                                  backend: Route53Backend) -> None:
    zone = r53.new_zone(private=True)
    r53.new_zone(name=zone)
    listed = r53.route53.list_hosted_zones_by_name(DNSName=zone + ".")["HostedZones"]
    ids = {hz["Id"].removeprefix("/hostedzone/"): hz["Config"]["PrivateZone"] for hz in listed}
    assert sorted(ids.values()) == [False, True]
    await backend.apply(zone, [Upsert(rrset(f"split.{zone}", "A", ["192.0.2.7"]))])
    public_zone_id = next(zid for zid, private in ids.items() if not private)
    private_zone_id = next(zid for zid, private in ids.items() if private)
    for zone_id, expected in ((public_zone_id, 1), (private_zone_id, 0)):
        sets = r53.route53.list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=f"split.{zone}.",
            StartRecordType="A")["ResourceRecordSets"]
        assert len([s for s in sets if s["Name"] == f"split.{zone}."]) == expected


async def test_ambiguous_hosted_zones_must_be_pinned(r53: Route53Harness,
                                                    backend: Route53Backend) -> None:
    zone = r53.new_zone()
    r53.new_zone(name=zone)
    with pytest.raises(BackendUnavailable) as failure:
        await backend.read(zone)
    assert "hosted_zone_ids" in failure.value.detail


async def test_missing_zone_and_a_deleted_cached_one(r53: Route53Harness,
                                                    backend: Route53Backend) -> None:
    with pytest.raises(ZoneNotFound):
        await backend.read("no-such-zone.example")
    zone = r53.new_zone()
    await backend.read(zone)  # caches the id
    r53.route53.delete_hosted_zone(Id=r53.zone_ids.pop(zone))
    with pytest.raises(ZoneNotFound):
        await backend.apply(zone, [Upsert(rrset(f"x.{zone}", "A", ["192.0.2.1"]))])
    r53.new_zone(name=zone)  # re-created with a new id: found again
    await backend.apply(zone, [Upsert(rrset(f"x.{zone}", "A", ["192.0.2.1"]))])
    assert r53.lookup(zone, f"x.{zone}", "A") == ["192.0.2.1"]


async def test_check_and_zones(r53: Route53Harness, backend: Route53Backend) -> None:
    zone = r53.new_zone()
    health = await backend.check()
    assert health.ok and "Route 53 reachable" in health.message
    listed = await backend.zones()
    assert zone in listed and listed == sorted(listed)


# -- what is not a plain RRset ---------------------------------------------------


def _special_sets(r53: Route53Harness, zone: str) -> None:
    zone_id = r53.zone_ids[zone]
    weighted = [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"w.{zone}.", "Type": "A", "SetIdentifier": ident, "Weight": weight,
        "TTL": 60, "ResourceRecords": [{"Value": value}]}}
        for ident, weight, value in (("blue", 90, "192.0.2.1"), ("green", 10, "192.0.2.2"))]
    alias = {"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"al.{zone}.", "Type": "A", "AliasTarget": {
            "HostedZoneId": zone_id, "DNSName": f"w.{zone}.", "EvaluateTargetHealth": False}}}
    r53.route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [*weighted, alias]})


async def test_alias_and_routing_sets_are_not_read(r53: Route53Harness,
                                                   backend: Route53Backend) -> None:
    zone = r53.new_zone()
    _special_sets(r53, zone)
    await backend.apply(zone, [Upsert(rrset(f"w.{zone}", "TXT", ["plain"]))])
    everything = {(rr.name, rr.type) for rr in await backend.read(zone)}
    assert (f"w.{zone}", "TXT") in everything
    assert (f"w.{zone}", "A") not in everything
    assert (f"al.{zone}", "A") not in everything
    assert (zone, "NS") in everything
    assert await backend.read(zone, f"w.{zone}", "A") == []
    assert await backend.read(zone, f"al.{zone}") == []


@pytest.mark.parametrize("change", ["upsert-weighted", "delete-weighted", "upsert-alias",
                                    "delete-alias"])
async def test_alias_and_routing_sets_are_not_clobbered(r53: Route53Harness,
                                                        backend: Route53Backend,
                                                        change: str) -> None:
    zone = r53.new_zone()
    _special_sets(r53, zone)
    before = {key: r53.record_sets(zone, *key) for key in ((f"w.{zone}", "A"),
                                                            (f"al.{zone}", "A"))}
    name = f"w.{zone}" if change.endswith("weighted") else f"al.{zone}"
    refused = (Upsert(rrset(name, "A", ["192.0.2.99"])) if change.startswith("upsert")
               else Delete(name, "A"))
    seen = Upstream(r53)
    with pytest.raises(InvalidRecord, match="alias or routing-policy"):
        await backend.apply(zone, [Upsert(rrset(f"ok.{zone}", "A", ["192.0.2.3"])), refused])
    assert "ChangeResourceRecordSets" not in seen.operations()
    assert r53.lookup(zone, f"ok.{zone}", "A") == []
    assert {key: r53.record_sets(zone, *key) for key in before} == before


# -- names and values ------------------------------------------------------------


async def test_wildcard_round_trip(r53: Route53Harness, backend: Route53Backend) -> None:
    zone = r53.new_zone()
    name = f"*.lab.{zone}"
    wanted = rrset(name, "A", ["192.0.2.42"])
    await backend.apply(zone, [Upsert(wanted)])
    assert await backend.read(zone, name, "A") == [wanted]
    assert wanted in await backend.read(zone)
    assert r53.lookup(zone, name, "A") == ["192.0.2.42"]
    await backend.apply(zone, [Delete(name, "A")])
    assert r53.lookup(zone, name, "A") == []
    assert await backend.read(zone, name) == []


async def test_escaped_wildcard_as_route53_writes_it(r53: Route53Harness,
                                                     backend: Route53Backend) -> None:
    # AWS returns "*" as "\052"; moto keeps what it was given, so give it that.
    zone = r53.new_zone()
    r53.route53.change_resource_record_sets(HostedZoneId=r53.zone_ids[zone], ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"\\052.esc.{zone}.", "Type": "TXT", "TTL": 60,
            "ResourceRecords": [{"Value": '"escaped"'}]}}]})
    assert await backend.read(zone, None, "TXT") == [
        RRset(f"*.esc.{zone}", "TXT", 60, ('"escaped"',))]


async def test_txt_escapes_are_octal_upstream(r53: Route53Harness,
                                             backend: Route53Backend) -> None:
    zone = r53.new_zone()
    name = f"txt.{zone}"
    long_value = "k=" + "B" * 300
    wanted = rrset(name, "TXT", ["café", long_value, 'a "quoted" \\ value'])
    assert '"caf\\195\\169"' in wanted.records  # dnspython: decimal
    await backend.apply(zone, [Upsert(wanted)])
    [stored] = r53.record_sets(zone, name, "TXT")
    values = [record["Value"] for record in stored["ResourceRecords"]]
    assert '"caf\\303\\251"' in values  # Route 53: octal
    assert f'"k={"B" * 253}" "{"B" * 47}"' in values  # split at 255
    assert '"a \\"quoted\\" \\\\ value"' in values
    [got] = await backend.read(zone, name, "TXT")
    assert sorted(got.records) == sorted(wanted.records)
    assert r53.lookup(zone, name, "TXT") == sorted(wanted.records)


def test_name_decoding() -> None:
    assert decode_name("\\052.lab.example.com.") == "*.lab.example.com"
    assert decode_name("WWW.Example.COM.") == "www.example.com"
    assert decode_name("_acme-challenge.example.com") == "_acme-challenge.example.com"
    assert decode_name("a\\056b.example.com.") is None  # a dot inside a label
    assert decode_name("a\\040b.example.com.") is None  # a space
    assert decode_name("x.\\052.example.com.") is None  # '*' not leftmost
    assert decode_name("trailing\\") is None


def test_escape_conversion() -> None:
    assert to_route53('"caf\\195\\169"') == '"caf\\303\\251"'
    assert from_route53('"caf\\303\\251"') == '"caf\\195\\169"'
    # An escaped backslash followed by digits is not a numeric escape.
    assert to_route53('"a\\\\123"') == '"a\\\\123"'
    assert from_route53('"a\\\\123"') == '"a\\\\123"'
    assert to_route53('"say \\"hi\\""') == '"say \\"hi\\""'
    for value in ('"\\000\\255"', '"x\\127y"', "10 mail.example.com."):
        assert from_route53(to_route53(value)) == value


# -- failures ----------------------------------------------------------------------


async def test_wrong_credentials(r53: Route53Harness) -> None:
    for config in (r53.bad_credentials(),
                   {**r53.config(), "access_key_id": "AKIA" + "Z" * 16}):
        backend = Route53Backend(config_of(config))
        secret = config["secret_access_key"]
        try:
            health = await backend.check()
            assert not health.ok and "authentication failed (HTTP 403" in health.message
            with pytest.raises(BackendUnavailable) as failure:
                await backend.read("example.com")
        finally:
            await backend.aclose()
        assert failure.value.message == "route53 backend failed"
        assert "HTTP 403" in failure.value.detail
        for text in (health.message, str(failure.value), failure.value.detail):
            assert secret not in text
            assert r53.moto.secret_access_key not in text


def _error(status: int, code: str) -> bytes:
    return (f'<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code><Message>injected {code}</Message>"
            f"</Error><RequestId>r</RequestId></ErrorResponse>").encode()


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


async def intercept(backend: Route53Backend, answer: Any) -> list[str]:
    """Note each attempt the client makes; ``answer(method, attempt)`` may
    return (status, code) to answer it instead of moto."""
    sent: list[str] = []

    def before_send(request: Any, **_: Any) -> AWSResponse | None:
        sent.append(request.method)
        injected = answer(request.method, len(sent))
        if injected is None:
            return None
        status, code = injected
        return AWSResponse(request.url, status, {}, _Body(_error(status, code)))

    client = await backend._boto()
    client.meta.events.register("before-send.route53", before_send)
    return sent


async def test_reads_are_retried_on_5xx(r53: Route53Harness) -> None:
    zone = r53.new_zone()
    with r53.fault("error") as config:
        backend = Route53Backend(config_of(
            {**config, "hosted_zone_ids": {zone: r53.zone_ids[zone]}}))
        try:
            sent = await intercept(backend, lambda method, n: None)
            with pytest.raises(BackendUnavailable) as failure:
                await backend.read(zone, f"x.{zone}", "A")
        finally:
            await backend.aclose()
    assert sent == ["GET"] * 3
    assert not isinstance(failure.value, BackendTimeout)
    assert "HTTP 500" in failure.value.detail


async def test_reads_are_retried_when_throttled(r53: Route53Harness,
                                                backend: Route53Backend) -> None:
    zone = r53.new_zone()
    await backend.apply(zone, [Upsert(rrset(f"t.{zone}", "A", ["192.0.2.1"]))])
    sent = await intercept(backend, lambda method, n: (400, "Throttling") if n <= 2 else None)
    assert [rr.records for rr in await backend.read(zone, f"t.{zone}", "A")] == [
        ("192.0.2.1",)]
    assert sent == ["GET"] * 3


async def test_writes_are_never_retried(r53: Route53Harness, backend: Route53Backend) -> None:
    zone = r53.new_zone()
    sent = await intercept(backend, lambda method, n: (503, "ServiceUnavailable")
                           if method == "POST" else None)
    with pytest.raises(BackendUnavailable) as failure:
        await backend.apply(zone, [Upsert(rrset(f"x.{zone}", "A", ["192.0.2.1"]))])
    assert sent.count("POST") == 1
    assert "HTTP 503" in failure.value.detail
    assert r53.lookup(zone, f"x.{zone}", "A") == []


async def test_modeled_invalid_change_batch_is_an_invalid_record(
        r53: Route53Harness, backend: Route53Backend) -> None:
    # Route 53's documented error shape for a refused batch carries no <Code>.
    zone = r53.new_zone()
    body = (b'<InvalidChangeBatch xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            b"<Messages><Message>RRSet of type CNAME conflicts</Message></Messages>"
            b"<RequestId>r</RequestId></InvalidChangeBatch>")

    def before_send(request: Any, **_: Any) -> AWSResponse | None:
        if request.method != "POST":
            return None
        return AWSResponse(request.url, 400, {}, _Body(body))

    client = await backend._boto()
    client.meta.events.register("before-send.route53", before_send)
    with pytest.raises(InvalidRecord) as failure:
        await backend.apply(zone, [Upsert(rrset(f"c.{zone}", "CNAME", [f"x.{zone}."]))])
    assert failure.value.message == "Route 53 refused the change: RRSet of type CNAME conflicts"


async def test_auth_failure_is_not_retried(r53: Route53Harness,
                                           backend: Route53Backend) -> None:
    sent = await intercept(backend, lambda method, n: (403, "AccessDenied"))
    health = await backend.check()
    assert health.message == "authentication failed (HTTP 403 AccessDenied)"
    assert sent == ["GET"]


# -- configuration -------------------------------------------------------------------


def test_config_masks_secrets(r53: Route53Harness) -> None:
    assert secret_fields(Route53Config) == {"secret_access_key", "session_token"}
    raw = {**r53.config(), "session_token": "token-" + "t" * 40}
    config = config_of(raw)
    for text in (repr(config), str(config), config.model_dump_json()):
        assert raw["secret_access_key"] not in text
        assert raw["session_token"] not in text
    assert config.secret_access_key.get_secret_value() == raw["secret_access_key"]
    assert config.region == "us-east-1"


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("endpoint_url", "ftp://127.0.0.1:1", "endpoint_url"),
    ("endpoint_url", "http://user:hunter2hunter2@127.0.0.1:1", "credentials"),
    ("endpoint_url", "http://127.0.0.1:1/?x=hunter2hunter2", "query"),
    ("access_key_id", "short", "access_key_id"),
    ("secret_access_key", "", "secret_access_key"),
    ("region", "Mars-Central", "region"),
    ("hosted_zone_ids", {"example.com": "not an id hunter2hunter2"}, "hosted zone id"),
    ("hosted_zone_ids", {"exa mple.com": "Z123"}, "zone name"),
    ("unknown", "x", "unknown"),
    ("timeout", 0, "timeout"),
])
def test_config_validation_names_the_field_not_the_value(
        r53: Route53Harness, field: str, value: Any, problem: str) -> None:
    raw = {**r53.config(), field: value}
    with pytest.raises(InvalidInput) as failure:
        registry.parse_config("route53", raw)
    message = str(failure.value)
    assert problem in message
    assert "hunter2hunter2" not in message
    assert r53.moto.secret_access_key not in message


def test_config_normalizes_pinned_zones(r53: Route53Harness) -> None:
    config = config_of({**r53.config(), "hosted_zone_ids": {
        "Example.COM.": "/hostedzone/Z0123456789ABC"}, "endpoint_url": "http://127.0.0.1:5/"})
    assert config.hosted_zone_ids == {"example.com": "Z0123456789ABC"}
    assert config.endpoint_url == "http://127.0.0.1:5"
    assert config_of({**r53.config(), "session_token": ""}).session_token is None
