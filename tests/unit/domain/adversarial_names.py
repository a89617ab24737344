"""Adversarial owner names for the domain property tests, and a dnspython oracle.

A strategy here yields a :class:`Spelled`: ``labels`` is the name the test
*means* (leftmost label first, A-labels, lowercase), ``raw`` is how a client
might spell it (any case, trailing dot, Unicode, full-width letters, stray
whitespace), and ``valid`` says whether the edge must accept it. Tests compute
their expected answers from ``labels`` and ``valid`` alone, never by calling
the code under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dns.name
from hypothesis import strategies as st

MAX_LABEL = 63
MAX_NAME = 253
ACME = "_acme-challenge"

#: A-label -> Unicode spellings a client might send for it. Every row is checked
#: against the standard library's independent IDNA codec in test_names.py.
IDN_SPELLINGS: dict[str, tuple[str, ...]] = {
    "xn--bcher-kva": ("bücher", "BÜCHER", "Bücher", "bu\u0308cher", "ＢÜＣＨＥＲ"),
    "xn--mnchen-3ya": ("münchen", "MÜNCHEN"),
    "xn--e1afmkfd": ("пример", "ПРИМЕР"),
    "xn--r8jz45g": ("例え",),
    "xn--caf-dma": ("café", "CAFÉ", "cafe\u0301"),
    "xn--jxalpdlp": ("δοκιμή", "ΔΟΚΙΜΉ"),
    "xn--zckzah": ("テスト",),
}

#: Labels that look like A-labels but are not: no Punycode after the prefix,
#: a trailing hyphen, deltas that decode to control characters, a code point
#: IDNA2008 disallows (U+1F4A9).
BAD_A_LABELS = (
    "xn--", "xn--a", "xn--abc-", "xn--zz", "xn--bcher-kva-", "xn--0", "xn--ls8h", "xn----",
)

#: Separators UTS-46 maps to "." inside a label; dnsgate rejects them.
UNICODE_DOTS = ("\u3002", "\uff0e", "\uff61")

#: Labels chosen to collide: shared suffixes without a dot boundary
#: (xhome/home, evilexample/example), service labels, IDN, wildcard.
POOL = (
    "home", "xhome", "homex", "www", "a", "b", "lab", "evil", "example", "evilexample",
    "test", ACME, "_tcp", "xn--bcher-kva", "xn--caf-dma",
)

_LDH_UNDERSCORE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")
_PLAIN_LDH = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")  # IDNA2008-valid ASCII label
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyz0123456789-"}


@dataclass(frozen=True)
class Spelled:
    labels: tuple[str, ...]
    raw: str
    valid: bool

    @property
    def canonical(self) -> str:
        return ".".join(self.labels)


def structurally_valid(labels: tuple[str, ...]) -> bool:
    """The oracle for what normalize() must accept, given the meant labels."""
    if not labels or any(not label for label in labels):
        return False
    if len(".".join(labels)) > MAX_NAME:
        return False
    for i, label in enumerate(labels):
        if label == "*":
            if i != 0:
                return False
            continue
        if len(label) > MAX_LABEL or label in BAD_A_LABELS:
            return False
        if not _LDH_UNDERSCORE.match(label):
            return False
    return True


# -- labels ---------------------------------------------------------------

_LDH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


@st.composite
def ldh_labels(draw: st.DrawFn, min_size: int = 1, max_size: int = 12) -> str:
    """A letter-digit-hyphen label (hyphens only inside), never an A-label."""
    size = draw(st.integers(min_size, max_size))
    if size == 1:
        return draw(st.sampled_from(_LDH_CHARS))
    ends = st.sampled_from(_LDH_CHARS)
    middle = draw(st.text(_LDH_CHARS + "-", min_size=size - 2, max_size=size - 2))
    label = draw(ends) + middle + draw(ends)
    if label.startswith("xn--"):
        label = "x" + label[1:].replace("-", "x", 1)
    return label


def meant_labels() -> st.SearchStrategy[str]:
    """Canonical labels, mostly valid, sometimes not (empty, long, bad A-label)."""
    return st.one_of(
        st.sampled_from(POOL),
        ldh_labels(),
        st.sampled_from(tuple(IDN_SPELLINGS)),
        st.just("*"),
        st.just(""),
        ldh_labels(min_size=60, max_size=70),
        st.sampled_from(BAD_A_LABELS),
    )


@st.composite
def padded(draw: st.DrawFn, labels: tuple[str, ...]) -> tuple[str, ...]:
    """Prefix ``labels`` with long labels so the name is about 253 characters long."""
    target = draw(st.integers(MAX_NAME - 3, MAX_NAME + 3))
    rest = target - len(".".join(labels)) - 1  # characters left for the prefix labels
    prefix: list[str] = []
    while rest > 0:
        size = rest if rest <= MAX_LABEL else MAX_LABEL - 1
        prefix.append(draw(ldh_labels(min_size=size, max_size=size)))
        rest -= size + 1
    return (*prefix, *labels)


# -- spellings ------------------------------------------------------------


@st.composite
def random_case(draw: st.DrawFn, text: str) -> str:
    mask = draw(st.integers(0, 2 ** len(text) - 1))
    return "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(text))


@st.composite
def spell_label(draw: st.DrawFn, label: str, *, last: bool) -> tuple[str, bool]:
    """One spelling of ``label`` and whether the spelling itself is acceptable."""
    choices = ["case", "case", "case"]
    if label in IDN_SPELLINGS:
        choices.append("unicode")
    if _PLAIN_LDH.match(label) and len(label) <= MAX_LABEL:
        choices.append("fullwidth")
    if label:
        choices += ["newline", "star"] if not last else ["star"]
    how = draw(st.sampled_from(choices))
    if how == "unicode":
        return draw(st.sampled_from(IDN_SPELLINGS[label])), True
    if how == "fullwidth":
        spelled = "".join(_FULLWIDTH[c] for c in label)
        return draw(random_case(spelled)), True
    if how == "newline":  # an ASCII label with a line break is never a label
        return draw(random_case(label)) + "\n", False
    if how == "star":  # '*' is a whole label or nothing
        return ("*" + label if draw(st.booleans()) else label + "*"), False
    return draw(random_case(label)), True


@st.composite
def spell(draw: st.DrawFn, labels: tuple[str, ...]) -> Spelled:
    """A raw spelling of the meant ``labels``."""
    parts: list[str] = []
    ok = True
    for i, label in enumerate(labels):
        text, label_ok = draw(spell_label(label, last=i == len(labels) - 1))
        ok = ok and label_ok
        parts.append(text)
    raw = ""
    for i, part in enumerate(parts):
        if i:
            if draw(st.integers(0, 19)) == 0:
                raw += draw(st.sampled_from(UNICODE_DOTS))
                ok = False
            else:
                raw += "."
        raw += part
    trailing = draw(st.sampled_from(["", "", ".", ".."]))
    if trailing == "..":
        ok = False
    raw += trailing
    if draw(st.booleans()):
        raw = draw(st.sampled_from([" ", "\t", "\n", "  "])) + raw
    if draw(st.booleans()):
        raw += draw(st.sampled_from([" ", "\t", "\n"]))
    return Spelled(labels, raw, ok and structurally_valid(labels))


@st.composite
def spelled_names(draw: st.DrawFn) -> Spelled:
    """Any name: random meant labels (some invalid), sometimes near the length limit."""
    labels = tuple(draw(st.lists(meant_labels(), min_size=1, max_size=6)))
    if draw(st.integers(0, 4)) == 0:
        labels = draw(padded(labels))
    return draw(spell(labels))


@st.composite
def related_labels(draw: st.DrawFn, anchors: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """A name near one of ``anchors``: itself, below, above, beside, or glued to it."""
    base = draw(st.sampled_from(anchors))
    head, tail = base[0], base[1:]
    how = draw(st.sampled_from([
        "same", "child", "grandchild", "acme", "acme-acme", "wildcard", "parent",
        "sibling", "glued-prefix", "glued-suffix", "glued-across-dot", "empty-label",
        "long-label", "padded", "star-inside",
    ]))
    pool = st.sampled_from(POOL)
    if how == "same":
        return base
    if how == "child":
        return (draw(pool), *base)
    if how == "grandchild":
        return (draw(pool), draw(pool), *base)
    if how == "acme":
        return (ACME, *base)
    if how == "acme-acme":
        return (ACME, ACME, *base)
    if how == "wildcard":
        return ("*", *base) if draw(st.booleans()) else ("*", draw(pool), *base)
    if how == "parent":
        return tail or base
    if how == "sibling":
        return (draw(pool), *tail)
    if how == "glued-prefix":  # xhome.example.test against home.example.test
        return (draw(st.sampled_from(["x", "evil", "a-", "_", "1"])) + head, *tail)
    if how == "glued-suffix":  # homex.example.test against home.example.test
        return (head + draw(st.sampled_from(["x", "-evil", "_", "0"])), *tail)
    if how == "glued-across-dot":  # homeexample.test against home.example.test
        return (head + tail[0], *tail[1:]) if tail else base
    if how == "empty-label":
        at = draw(st.integers(0, len(base) - 1))
        return (*base[:at], "", *base[at:])
    if how == "long-label":
        return (draw(ldh_labels(min_size=MAX_LABEL, max_size=MAX_LABEL + 2)), *base)
    if how == "padded":
        return draw(padded(base))
    # star-inside: a wildcard label that is not the leftmost one
    return (draw(pool), "*", *base)


# -- the oracle -----------------------------------------------------------


def dns_name(labels: tuple[str, ...] | str) -> dns.name.Name:
    """An absolute dnspython name from meant labels (or a canonical string)."""
    if isinstance(labels, str):
        labels = tuple(labels.split("."))
    return dns.name.Name([label.encode("ascii") for label in labels] + [b""])


def oracle_claim_contains(claim: str, kind: str, name: tuple[str, ...] | str) -> bool:
    """Does a realm claim cover ``name``? dnspython's label-wise comparisons only."""
    n, c = dns_name(name), dns_name(claim)
    if kind == "host":
        return n == c
    if kind == "subtree":
        return n.is_subdomain(c)
    assert kind == "below"
    return n.is_subdomain(c) and n != c


def oracle_acme_of(host: str, name: tuple[str, ...] | str) -> bool:
    """Is ``name`` the DNS-01 challenge name of ``host``?"""
    return dns_name(name) == dns.name.Name([ACME.encode("ascii"), *dns_name(host).labels])
