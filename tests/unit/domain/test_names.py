"""dnsgate.domain.names: the one normalizer and label-wise comparison."""

from __future__ import annotations

import re

import dns.exception
import dns.name
import pytest
from adversarial_names import (
    ACME,
    IDN_SPELLINGS,
    MAX_LABEL,
    MAX_NAME,
    SEEDS,
    Spelled,
    ldh_labels,
    mixed_rng,
    oracle_claim_contains,
    pad,
    random_case,
    related_labels,
    spelled_names,
    structurally_valid,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.examples import examples

from dnsgate.domain import names
from dnsgate.domain.errors import InvalidInput, InvalidName

MANY = settings(max_examples=examples(10_000), deadline=None)
KINDS = ("host", "subtree", "below")
_OUTPUT_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")


def _check_canonical_form(name: str) -> None:
    """What every output of normalize() looks like, whatever went in."""
    assert name.isascii()
    assert name == name.lower()
    assert not name.endswith(".")
    assert len(name) <= MAX_NAME
    parts = name.split(".")
    for i, label in enumerate(parts):
        assert 1 <= len(label) <= MAX_LABEL, (name, label)
        if label == "*":
            assert i == 0, name
        else:
            assert _OUTPUT_LABEL.match(label), (name, label)


# -- normalize: examples --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.test", "example.test"),
        ("Example.TEST.", "example.test"),
        ("  www.example.test \n", "www.example.test"),
        ("_acme-challenge.WWW.example.test", "_acme-challenge.www.example.test"),
        ("_tcp._sip.example.test", "_tcp._sip.example.test"),
        ("*.Example.test", "*.example.test"),
        ("*", "*"),
        ("BÜCHER.example.test", "xn--bcher-kva.example.test"),
        ("XN--BCHER-KVA.example.test", "xn--bcher-kva.example.test"),
        ("\uff48\uff4f\uff4d\uff45.example.test", "home.example.test"),  # full-width
        ("straße.test", "xn--strae-oqa.test"),  # UTS-46 non-transitional, as browsers
        ("1.2.3.4.in-addr.arpa", "1.2.3.4.in-addr.arpa"),
        ("ab--cd.example.test", "ab--cd.example.test"),
    ],
)
def test_normalize_examples(raw: str, expected: str) -> None:
    assert names.normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "", " ", ".", "..", "a..b", ".a.b", "a.b..",
        "a.*.b", "a.b.*", "*a.b", "a*.b", "**.b", "*.*.b",
        "-a.b", "a-.b", "a b.c", "a/b.c", "a@b.c", "a\tb.c",
        "a\n.example.test",  # a line break inside a label (regression)
        "home\n.example.test.",
        "xn--a.test", "xn--.test", "xn--abc-.test", "xn--ls8h.test",
        "💩.test",
        "home\u3002example.test", "home\uff0eexample.test",  # dots UTS-46 maps to "."
        "\uff3facme.test",  # full-width low line maps to "_", not valid IDNA
        "a" * 64 + ".test",
        ".".join(["a" * 63] * 4),  # 255 characters
        "ü" * 60 + ".test",  # A-label longer than 63
    ],
)
def test_normalize_rejects(raw: str) -> None:
    with pytest.raises(InvalidName) as info:
        names.normalize(raw)
    assert info.value.code == "invalid_name"
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize("raw", [None, b"example.test", 42, ["example", "test"]])
def test_normalize_rejects_non_strings(raw: object) -> None:
    with pytest.raises(InvalidName):
        names.normalize(raw)


def test_normalize_line_break_in_label_regression() -> None:
    # The ASCII label pattern used to end in '$', which also matches before a
    # final newline, so "a\n" passed as a label and reached the output.
    with pytest.raises(InvalidName):
        names.normalize("a\n.example.test")


def test_normalize_length_limits_are_inclusive() -> None:
    assert names.normalize("a" * 63 + ".test") == "a" * 63 + ".test"
    name_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name_253) == MAX_NAME
    assert names.normalize(name_253 + ".") == name_253
    with pytest.raises(InvalidName):
        names.normalize(name_253 + "d")
    with pytest.raises(InvalidName):
        names.normalize("a" * 64 + ".test")


def test_normalize_limits_apply_to_the_a_label() -> None:
    # 57 'ü' are 57 characters but a 63-character A-label; 58 overflow the label.
    # The expected A-label comes from Python's own punycode codec.
    a_label = "xn--" + ("ü" * 57).encode("punycode").decode("ascii")
    assert len(a_label) == MAX_LABEL
    assert names.normalize("ü" * 57 + ".test") == a_label + ".test"
    with pytest.raises(InvalidName):
        names.normalize("ü" * 58 + ".test")


def test_normalize_wildcard_can_be_refused() -> None:
    with pytest.raises(InvalidName):
        names.normalize("*.example.test", allow_wildcard=False)
    assert names.normalize("www.example.test", allow_wildcard=False) == "www.example.test"


@pytest.mark.parametrize("a_label", sorted(IDN_SPELLINGS))
def test_idn_table_agrees_with_the_standard_library(a_label: str) -> None:
    # The fixture table of the property tests is checked here against Python's
    # own IDNA 2003 codec, which shares no code with the idna package.
    for spelling in IDN_SPELLINGS[a_label]:
        assert spelling.encode("idna").decode("ascii") == a_label
        assert names.normalize(f"{spelling}.test") == f"{a_label}.test"


# -- normalize: properties ------------------------------------------------


@MANY
@given(spelled_names())
def test_normalize_matches_the_oracle_on_adversarial_spellings(name: Spelled) -> None:
    try:
        result = names.normalize(name.raw)
    except InvalidName:
        assert not name.valid, f"rejected a valid name {name.raw!r}"
        return
    assert name.valid, f"accepted {name.raw!r} as {result!r}"
    assert result == name.canonical
    _check_canonical_form(result)
    assert names.normalize(result) == result


_ANY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="aZ09-_.*\n \u3002ßü\uff21", max_size=40),
)


@MANY
@given(_ANY_TEXT)
def test_normalize_output_is_canonical_and_idempotent(raw: str) -> None:
    try:
        once = names.normalize(raw)
    except InvalidName:
        return
    _check_canonical_form(once)
    assert names.normalize(once) == once
    assert names.normalize(once + ".") == once
    assert names.normalize(once.upper()) == once


_ASCII_LABEL = st.one_of(
    ldh_labels(),
    ldh_labels(min_size=60, max_size=66),
    st.sampled_from(["_tcp", ACME, "a_b", ""]),
)


@st.composite
def _ascii_ldh_names(draw: st.DrawFn) -> str:
    """ASCII LDH names in any case, with empty and over-long labels now and then."""
    labels = tuple(draw(st.lists(_ASCII_LABEL, min_size=1, max_size=5)))
    rng = mixed_rng(draw(SEEDS), labels)
    if rng.random() < 0.25:
        labels = pad(labels, rng.randint(MAX_NAME - 3, MAX_NAME + 3), "x")
    return random_case(rng, ".".join(labels) + rng.choice(["", "."]))


@MANY
@given(_ascii_ldh_names())
def test_normalize_agrees_with_dnspython_on_ascii(raw: str) -> None:
    try:
        expected: str | None = dns.name.from_text(raw).to_text(omit_final_dot=True).lower()
    except dns.exception.DNSException:
        expected = None
    if raw.strip(".") == "":
        expected = None  # the root is not a name anyone can claim
    try:
        got: str | None = names.normalize(raw)
    except InvalidName:
        got = None
    assert got == expected


@MANY
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=20))
def test_a_labels_are_accepted_only_if_they_round_trip(tail: str) -> None:
    label = "xn--" + tail
    try:
        result = names.normalize(f"{label}.test")
    except InvalidName:
        return
    assert result == f"{label}.test"
    # Python's own punycode codec (not the idna package) must agree that the
    # label is the one encoding of some non-ASCII text.
    decoded = tail.encode("ascii").decode("punycode")
    assert not decoded.isascii()
    assert decoded.encode("punycode").decode("ascii") == tail


# -- resolve --------------------------------------------------------------

ZONE = "example.test"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@", ZONE),
        ("", ZONE),
        ("  @ ", ZONE),
        ("www", "www.example.test"),
        ("WWW", "www.example.test"),
        ("a.b", "a.b.example.test"),
        ("*", "*.example.test"),
        ("*.lab", "*.lab.example.test"),
        ("www.example.test", "www.example.test"),
        ("Www.Example.Test", "www.example.test"),
        ("www.example.test.", "www.example.test"),
        ("example.test", ZONE),
        ("other.test.", "other.test"),  # absolute: the caller checks it is in the zone
        ("example", "example.example.test"),
        ("evilexample.test", "evilexample.test.example.test"),  # no dot boundary: relative
        ("test", "test.example.test"),
        ("bücher", "xn--bcher-kva.example.test"),
    ],
)
def test_resolve(raw: str, expected: str) -> None:
    assert names.resolve(raw, ZONE) == expected


def test_resolve_checks_the_joined_length() -> None:
    relative = ".".join(["a" * 63] * 3 + ["b" * 50])
    assert names.normalize(relative) == relative  # fine on its own: 242 characters
    with pytest.raises(InvalidName):
        names.resolve(relative, ZONE)  # 255 characters once joined to the zone


def test_resolve_refuses_wildcard_when_asked() -> None:
    with pytest.raises(InvalidName):
        names.resolve("*", ZONE, allow_wildcard=False)
    with pytest.raises(InvalidName):
        names.resolve("*.example.test.", ZONE, allow_wildcard=False)


@pytest.mark.parametrize("raw", ["a..b", "-x", "a.*", "xn--a"])
def test_resolve_rejects_invalid_relative_names(raw: str) -> None:
    with pytest.raises(InvalidName):
        names.resolve(raw, ZONE)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("@", ZONE), (" @ ", ZONE), ("example.test", ZONE), ("Example.Test.", ZONE),
     ("www.example.test", "www.example.test"), ("*.lab.example.test", "*.lab.example.test")],
)
def test_in_zone(raw: str, expected: str) -> None:
    assert names.in_zone(raw, ZONE) == expected


@pytest.mark.parametrize(
    "raw", ["evilexample.test", "test", "other.test", "example.test.evil", "www", "", "a..b"]
)
def test_in_zone_rejects_names_outside_the_zone(raw: str) -> None:
    with pytest.raises(InvalidName):
        names.in_zone(raw, ZONE)


# -- label-wise helpers ---------------------------------------------------


def test_labels_are_most_significant_first() -> None:
    assert names.labels("www.example.test") == ("test", "example", "www")
    assert names.labels("test") == ("test",)


@pytest.mark.parametrize(
    ("name", "ancestor", "at_or_below", "strictly_below"),
    [
        ("example.test", "example.test", True, False),
        ("www.example.test", "example.test", True, True),
        ("a.b.example.test", "example.test", True, True),
        ("*.example.test", "example.test", True, True),
        ("example.test", "www.example.test", False, False),
        ("evilexample.test", "example.test", False, False),  # dot boundary
        ("xhome.example.test", "home.example.test", False, False),  # dot boundary
        ("a.xhome.example.test", "home.example.test", False, False),
        ("homeexample.test", "home.example.test", False, False),
        ("example.testx", "example.test", False, False),
        ("example.test", "test", True, True),
        ("example.org", "example.test", False, False),
    ],
)
def test_is_at_or_below_and_strictly_below(
    name: str, ancestor: str, at_or_below: bool, strictly_below: bool
) -> None:
    assert names.is_at_or_below(name, ancestor) is at_or_below
    assert names.is_strictly_below(name, ancestor) is strictly_below


def test_dot_boundary_regression() -> None:
    # A string suffix test would say yes to all of these.
    assert "evilexample.test".endswith("example.test")
    assert not names.is_at_or_below("evilexample.test", "example.test")
    assert not names.claim_contains("example.test", "subtree", "evilexample.test")
    assert not names.claim_contains("example.test", "below", "evilexample.test")
    assert not names.claim_contains("home.example.test", "subtree", "xhome.example.test")


@pytest.mark.parametrize(
    ("name", "ancestor", "depth"),
    [("example.test", "example.test", 0), ("www.example.test", "example.test", 1),
     ("_acme-challenge.www.example.test", "example.test", 2), ("*.example.test", "test", 2)],
)
def test_depth_below(name: str, ancestor: str, depth: int) -> None:
    assert names.depth_below(name, ancestor) == depth


@pytest.mark.parametrize(
    ("name", "expected"),
    [("*", True), ("*.example.test", True), ("example.test", False),
     ("a.*.test", False), ("x*.test", False)],
)
def test_is_wildcard(name: str, expected: bool) -> None:
    assert names.is_wildcard(name) is expected


def test_parent_and_acme_challenge_of() -> None:
    assert names.parent("www.example.test") == "example.test"
    assert names.parent("test") == ""
    assert names.acme_challenge_of("www.example.test") == "_acme-challenge.www.example.test"


@pytest.mark.parametrize(
    ("claim", "kind", "name", "expected"),
    [
        ("home.example.test", "host", "home.example.test", True),
        ("home.example.test", "host", "a.home.example.test", False),
        ("home.example.test", "host", "_acme-challenge.home.example.test", False),  # by type
        ("home.example.test", "subtree", "home.example.test", True),
        ("home.example.test", "subtree", "a.b.home.example.test", True),
        ("home.example.test", "subtree", "example.test", False),
        ("home.example.test", "below", "home.example.test", False),
        ("home.example.test", "below", "a.home.example.test", True),
        ("home.example.test", "below", "*.home.example.test", True),  # wildcard is below
        ("home.example.test", "subtree", "*.home.example.test", True),
        ("home.example.test", "host", "*.home.example.test", False),
        ("*.lab.example.test", "host", "*.lab.example.test", True),
        ("*.lab.example.test", "host", "x.lab.example.test", False),
        ("home.example.test", "subtree", "xhome.example.test", False),
        ("home.example.test", "below", "a.xhome.example.test", False),
    ],
)
def test_claim_contains(claim: str, kind: str, name: str, expected: bool) -> None:
    assert names.claim_contains(claim, kind, name) is expected


_ANCHORS = (
    ("home", "example", "test"),
    ("example", "test"),
    ("_acme-challenge", "home", "example", "test"),
    ("*", "lab", "example", "test"),
)


def _valid_or_anchor(labels: tuple[str, ...]) -> str:
    return ".".join(labels if structurally_valid(labels) else _ANCHORS[0])


_VALID_RELATED = related_labels(_ANCHORS).map(_valid_or_anchor)
_KIND = st.sampled_from(KINDS)


@MANY
@given(_VALID_RELATED, _KIND, _VALID_RELATED)
def test_claim_contains_agrees_with_dnspython(claim: str, kind: str, name: str) -> None:
    assert names.claim_contains(claim, kind, name) is oracle_claim_contains(claim, kind, name)
    n, c = dns.name.from_text(name), dns.name.from_text(claim)
    assert names.is_at_or_below(name, claim) is n.is_subdomain(c)
    assert names.is_strictly_below(name, claim) is (n.is_subdomain(c) and n != c)


