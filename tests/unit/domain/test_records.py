"""dnsgate.domain.records: record data validated and canonicalised by dnspython."""

from __future__ import annotations

import ipaddress

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.examples import examples

from dnsgate.domain.errors import InvalidInput, InvalidRecord
from dnsgate.domain.records import (
    MAX_RECORDS_PER_RRSET,
    MAX_TTL,
    WRITABLE_TYPES,
    Delete,
    RRset,
    Upsert,
    canonical_rdata,
    canonical_records,
    check_cname_exclusive,
    check_ttl,
    normalize_type,
    parse_rdata,
)

# The issue asks 10,000 examples for names and decide(); these properties are
# cheaper to trust, so they get fewer and the suite stays fast.
MANY = settings(max_examples=examples(2_000), deadline=None)
HEX32 = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"


def _txt_strings(presentation: str) -> list[bytes]:
    """The character-strings of a TXT record, parsed back by dnspython."""
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, presentation)
    return list(rdata.strings)


# -- types ----------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("a", "A"), (" txt ", "TXT"), ("Https", "HTTPS")])
def test_normalize_type(raw: str, expected: str) -> None:
    assert normalize_type(raw) == expected


@pytest.mark.parametrize("raw", ["SOA", "ANY", "AXFR", "RRSIG", "NSEC", "", "A A", "TYPE1", "FOO"])
def test_normalize_type_rejects_what_users_may_not_write(raw: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        normalize_type(raw)
    assert info.value.code == "invalid_record"
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize("raw", [None, 1, b"A"])
def test_normalize_type_rejects_non_strings(raw: object) -> None:
    with pytest.raises(InvalidRecord):
        normalize_type(raw)


def test_soa_is_not_writable() -> None:
    assert "SOA" not in WRITABLE_TYPES
    assert {"A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA", "NS", "PTR", "TLSA", "SSHFP",
            "SVCB", "HTTPS"} <= WRITABLE_TYPES


# -- one record of each type ----------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "raw", "canonical"),
    [
        ("A", "192.0.2.1", "192.0.2.1"),
        ("A", " 192.0.2.1 ", "192.0.2.1"),
        ("AAAA", "2001:DB8:0:0::1", "2001:db8::1"),
        ("AAAA", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("AAAA", "::1", "::1"),
        ("CNAME", "target.example.test", "target.example.test."),
        ("CNAME", "target.example.test.", "target.example.test."),
        ("MX", "10 mail.example.test", "10 mail.example.test."),
        ("MX", "0 .", "0 ."),  # null MX (RFC 7505)
        ("SRV", "10 5 443 host.example.test", "10 5 443 host.example.test."),
        ("CAA", '0 issue "letsencrypt.org"', '0 issue "letsencrypt.org"'),
        ("CAA", "0 issue letsencrypt.org", '0 issue "letsencrypt.org"'),
        ("CAA", '128 iodef "mailto:security@example.test"',
         '128 iodef "mailto:security@example.test"'),
        ("NS", "ns1.example.test", "ns1.example.test."),
        ("PTR", "host.example.test", "host.example.test."),
        ("TLSA", f"3 1 1 {HEX32}", f"3 1 1 {HEX32.lower()}"),
        ("TLSA", f"3 1 1 {HEX32[:32]} {HEX32[32:]}", f"3 1 1 {HEX32.lower()}"),
        ("SSHFP", f"4 2 {HEX32}", f"4 2 {HEX32.lower()}"),
        ("SVCB", "1 svc.example.test alpn=h2,h3 port=8443",
         '1 svc.example.test. alpn="h2,h3" port="8443"'),
        ("SVCB", "0 svc.example.test", "0 svc.example.test."),  # alias mode
        ("SVCB", "1 . port=443 alpn=h3", '1 . alpn="h3" port="443"'),  # keys sorted
        ("HTTPS", "1 . alpn=h3,h2 ipv4hint=192.0.2.1",
         '1 . alpn="h3,h2" ipv4hint="192.0.2.1"'),
        ("HTTPS", "1 . alpn=h2 mandatory=alpn", '1 . mandatory="alpn" alpn="h2"'),
        ("DS", f"12345 13 2 {HEX32}", f"12345 13 2 {HEX32.lower()}"),
        ("NAPTR", '100 10 "u" "E2U+sip" "!^.*$!sip:info@example.test!" .',
         '100 10 "u" "E2U+sip" "!^.*$!sip:info@example.test!" .'),
    ],
)
def test_canonical_rdata(rtype: str, raw: str, canonical: str) -> None:
    assert canonical_rdata(rtype, raw) == canonical
    assert canonical_rdata(rtype, canonical) == canonical  # canonical is a fixed point


@pytest.mark.parametrize(
    ("rtype", "raw"),
    [
        ("A", "256.1.1.1"), ("A", "192.000.2.1"), ("A", "1.2.3"), ("A", "::1"),
        ("A", "host.example.test"), ("A", ""), ("A", "1.2.3.4 5.6.7.8"),
        ("AAAA", "1.2.3.4"), ("AAAA", "2001:db8::g"), ("AAAA", "1::2::3"),
        ("CNAME", "a b"), ("CNAME", "a..b"), ("CNAME", "x" * 64 + ".test"), ("CNAME", '"x"'),
        ("MX", "mail.example.test"), ("MX", "70000 mail.example.test"), ("MX", "-1 mx.test"),
        ("SRV", "10 5 host.example.test"), ("SRV", "10 5 70000 host.example.test"),
        ("CAA", '0 bad tag "x"'), ("CAA", '256 issue "x"'), ("CAA", "0"),
        ("NS", ""), ("PTR", "a..b"),
        ("TLSA", "3 1 1 zz"), ("TLSA", "3 1"), ("TLSA", "300 1 1 ab"),
        ("SSHFP", "4 2 xyz"), ("SSHFP", "4"),
        ("SVCB", "1 svc.example.test bogus=1"), ("SVCB", "svc.example.test"),
        ("HTTPS", "1 . bogus=1"), ("HTTPS", "1 . port=notaport"),
        ("TXT", '"unterminated'), ("TXT", '"x" ' + "a" * 256),  # (a quoted one is split)
        ("DS", "12345 13 2 zz"),
        ("FOO", "x"),
    ],
)
def test_canonical_rdata_rejects(rtype: str, raw: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        canonical_rdata(rtype, raw)
    assert info.value.code == "invalid_record"


@pytest.mark.parametrize("rtype", ["A", "TXT", "CNAME"])
@pytest.mark.parametrize("raw", [None, 42, b"192.0.2.1", ["192.0.2.1"]])
def test_canonical_rdata_rejects_non_strings(rtype: str, raw: object) -> None:
    with pytest.raises(InvalidRecord):
        canonical_rdata(rtype, raw)


@pytest.mark.parametrize(
    ("rtype", "raw"),
    [
        ("A", "192.0.2.1\n192.0.2.2"),
        ("A", "192.0.2.1 ; a comment"),
        ("A", "192.0.2.1\n; a comment"),
        ("MX", "10 mx.example.test\nexample.test. 300 IN A 192.0.2.1"),
        ("TXT", '"v=DMARC1"; p=reject'),
        ("TXT", '"v=DKIM1; k=rsa; "\n"p=MIIB"'),
    ],
)
def test_canonical_rdata_never_drops_trailing_text(rtype: str, raw: str) -> None:
    # Regression: dnspython reads one line and skips comments, so these came
    # back as a shorter record ("192.0.2.1", '"v=DMARC1"') instead of an error.
    with pytest.raises(InvalidRecord):
        canonical_rdata(rtype, raw)


@pytest.mark.parametrize(
    ("rtype", "raw", "canonical"),
    [
        ("A", "192.0.2.1\n", "192.0.2.1"),
        ("A", "192.0.2.1\n\n", "192.0.2.1"),
        ("TXT", '"v=DKIM1; k=rsa; " (\n  "p=MIIB" )', '"v=DKIM1; k=rsa; " "p=MIIB"'),
        ("TXT", '"a;b"', '"a;b"'),
    ],
)
def test_canonical_rdata_accepts_line_breaks_that_lose_nothing(
    rtype: str, raw: str, canonical: str
) -> None:
    assert canonical_rdata(rtype, raw) == canonical


# -- TXT ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("hello world", '"hello world"'),
        ("", '""'),
        ("  padded  ", '"  padded  "'),  # raw text is kept byte for byte
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("é", '"\\195\\169"'),
        ("tab\there", '"tab\\009here"'),
        ("v=spf1 -all; x", '"v=spf1 -all; x"'),
        ('"quoted"', '"quoted"'),  # presentation form is kept
        ('"two" "strings"', '"two" "strings"'),
        ('  "quoted"  ', '"quoted"'),
        ('"\\065"', '"A"'),
        ('"a" b', '"a" "b"'),
    ],
)
def test_txt(raw: str, canonical: str) -> None:
    assert canonical_rdata("TXT", raw) == canonical


@pytest.mark.parametrize(
    ("size", "chunks"),
    [(254, [254]), (255, [255]), (256, [255, 1]), (510, [255, 255]), (600, [255, 255, 90])],
)
def test_long_txt_is_split_into_255_octet_strings(size: int, chunks: list[int]) -> None:
    value = "".join("abcdefghij"[i % 10] for i in range(size))
    strings = _txt_strings(canonical_rdata("TXT", value))
    assert [len(s) for s in strings] == chunks
    assert b"".join(strings) == value.encode()


def test_long_txt_splits_by_octets_not_characters() -> None:
    value = "ü" * 200  # 400 octets; the cut at 255 falls inside a character
    strings = _txt_strings(canonical_rdata("TXT", value))
    assert [len(s) for s in strings] == [255, 145]
    assert b"".join(strings).decode("utf-8") == value


def test_dkim_key_round_trips() -> None:
    key = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 10
    strings = _txt_strings(canonical_rdata("TXT", key))
    assert len(strings) == 2
    assert b"".join(strings).decode() == key


_RAW_TXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet='"\\ ;()\n\tabé', max_size=60),
    # long values, whose 255-octet cuts may fall inside a UTF-8 character
    st.builds(lambda text, n: text * n, st.text(min_size=1, max_size=5), st.integers(40, 120)),
).filter(lambda text: not text.strip().startswith('"'))


@MANY
@given(_RAW_TXT)
def test_raw_txt_round_trips(value: str) -> None:
    canonical = canonical_rdata("TXT", value)
    strings = _txt_strings(canonical)
    assert b"".join(strings) == value.encode("utf-8")
    assert all(len(s) <= 255 for s in strings)
    assert len(strings) == max(1, -(-len(value.encode("utf-8")) // 255))
    assert canonical_rdata("TXT", canonical) == canonical


# -- addresses (property) -------------------------------------------------


@MANY
@given(st.ip_addresses(), st.booleans())
def test_addresses_round_trip(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                              exploded: bool) -> None:
    rtype = "A" if address.version == 4 else "AAAA"
    other = "AAAA" if rtype == "A" else "A"
    text = address.exploded if exploded and address.version == 6 else str(address)
    canonical = canonical_rdata(rtype, text.upper())
    assert ipaddress.ip_address(canonical) == address
    assert canonical == canonical.lower()
    assert canonical_rdata(rtype, canonical) == canonical
    with pytest.raises(InvalidRecord):
        canonical_rdata(other, str(address))


# -- RRsets ---------------------------------------------------------------


def test_canonical_records_deduplicates_equal_records_in_order() -> None:
    got = canonical_records("AAAA", ["2001:DB8::1", "2001:db8::2", "2001:db8:0::1"])
    assert got == ("2001:db8::1", "2001:db8::2")


def test_canonical_records_returns_a_tuple() -> None:
    assert canonical_records("A", ("192.0.2.1",)) == ("192.0.2.1",)


@pytest.mark.parametrize("value", [[], (), "192.0.2.1", None, {"192.0.2.1"}])
def test_canonical_records_needs_a_non_empty_list(value: object) -> None:
    with pytest.raises(InvalidRecord):
        canonical_records("A", value)


def test_canonical_records_limit() -> None:
    many = [f"192.0.2.{i}" for i in range(MAX_RECORDS_PER_RRSET)]
    assert len(canonical_records("A", many)) == MAX_RECORDS_PER_RRSET
    with pytest.raises(InvalidRecord):
        canonical_records("A", [*many, "198.51.100.1"])


def test_canonical_records_rejects_one_bad_record_among_good_ones() -> None:
    with pytest.raises(InvalidRecord):
        canonical_records("A", ["192.0.2.1", "192.0.2.256"])


def test_cname_rrset_has_exactly_one_record() -> None:
    assert canonical_records("CNAME", ["a.example.test", "a.example.test."]) == (
        "a.example.test.",
    )
    with pytest.raises(InvalidRecord):
        canonical_records("CNAME", ["a.example.test", "b.example.test"])


def test_rrset_and_changes() -> None:
    rrset = RRset("www.example.test", "A", 300, ("192.0.2.1",))
    assert rrset.as_dict() == {"name": "www.example.test", "type": "A", "ttl": 300,
                               "records": ["192.0.2.1"]}
    assert Upsert(rrset).key == ("www.example.test", "A")
    assert Delete("www.example.test", "TXT").key == ("www.example.test", "TXT")


# -- CNAME exclusivity ----------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "others"),
    [
        ("CNAME", []),
        ("CNAME", ["CNAME"]),  # replacing the CNAME itself
        ("CNAME", ["RRSIG", "NSEC"]),  # DNSSEC data may sit beside it
        ("A", ["AAAA", "TXT", "MX"]),
        ("A", ["A"]),
        ("TXT", []),
    ],
)
def test_cname_exclusive_allows(rtype: str, others: list[str]) -> None:
    check_cname_exclusive(rtype, others)


@pytest.mark.parametrize(
    ("rtype", "others"),
    [
        ("CNAME", ["A"]),
        ("CNAME", ["TXT", "RRSIG"]),
        ("A", ["CNAME"]),
        ("TXT", ["CNAME", "RRSIG"]),
    ],
)
def test_cname_exclusive_refuses(rtype: str, others: list[str]) -> None:
    with pytest.raises(InvalidRecord):
        check_cname_exclusive(rtype, iter(others))


# -- TTL ------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [60, 61, 3600, 86400])
def test_check_ttl_inside_bounds(ttl: int) -> None:
    assert check_ttl(ttl, minimum=60, maximum=86400) == ttl


@pytest.mark.parametrize("ttl", [59, 86401, 0, -1])
def test_check_ttl_outside_bounds(ttl: int) -> None:
    with pytest.raises(InvalidRecord):
        check_ttl(ttl, minimum=60, maximum=86400)


@pytest.mark.parametrize("ttl", [True, False, 300.0, "300", None, [300]])
def test_check_ttl_needs_an_integer(ttl: object) -> None:
    with pytest.raises(InvalidRecord):
        check_ttl(ttl, minimum=0, maximum=86400)


def test_check_ttl_is_capped_by_the_protocol() -> None:
    assert check_ttl(MAX_TTL, minimum=0, maximum=2**40) == MAX_TTL
    with pytest.raises(InvalidRecord):
        check_ttl(MAX_TTL + 1, minimum=0, maximum=2**40)


def _through_the_tokenizer(rtype: str, text: str) -> str:
    """What dnspython's general parser makes of ``text``, or the error's message."""
    try:
        return str(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text)
                   .to_text())
    except Exception as exc:
        return f"error: {exc}"


@MANY
@given(rtype=st.sampled_from(["A", "AAAA"]),
       text=st.one_of(st.ip_addresses().map(str),
                      st.text(alphabet="0123456789abcdefABCDEF.:", min_size=1, max_size=45)))
def test_a_bare_address_parses_as_the_tokenizer_would(rtype, text):
    expected = _through_the_tokenizer(rtype, text)
    try:
        got = parse_rdata(rtype, text).to_text()
    except InvalidRecord as exc:
        assert expected.startswith("error: ")
        assert str(exc) == f"invalid {rtype} record {text!r}: {expected[len('error: '):]}"
    else:
        assert got == expected
