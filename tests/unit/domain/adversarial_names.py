"""Adversarial owner names for the domain property tests, and a dnspython oracle.

A strategy here yields a :class:`Spelled`: ``labels`` is the name the test
*means* (leftmost label first, A-labels, lowercase), ``raw`` is how a client
might spell it (any case, trailing dot, Unicode, full-width letters, stray
whitespace), and ``valid`` says whether the edge must accept it. Tests compute
their expected answers from ``labels`` and ``valid`` alone, never by calling
the code under test.

Hypothesis draws the meant labels (so failures shrink to small names); the
spelling is chosen by a seeded ``random.Random`` in one draw, which keeps
10,000 examples per property affordable.
"""

from __future__ import annotations

import functools
import random
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
#: IDNA2008 disallows (U+1F4A9), a second spelling of "xn--00k".
BAD_A_LABELS = (
    "xn--", "xn--a", "xn--abc-", "xn--zz", "xn--bcher-kva-", "xn--0", "xn--ls8h", "xn----",
    "xn---00k",
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
_LDH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


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


def _make_ldh(rng: random.Random, size: int) -> str:
    """A letter-digit-hyphen label: hyphens only inside, never the A-label prefix."""
    if size == 1:
        return rng.choice(_LDH_CHARS)
    middle = "".join(rng.choice(_LDH_CHARS + "--") for _ in range(size - 2))
    label = rng.choice(_LDH_CHARS) + middle + rng.choice(_LDH_CHARS)
    return "xm" + label[2:] if label.startswith("xn--") else label


def _ldh_samples() -> tuple[str, ...]:
    # Drawing from a fixed sample costs Hypothesis one choice per label, which
    # keeps 10,000 examples per property fast; the names are built from them.
    rng = random.Random(20301)
    sizes = [*range(1, 13)] * 12 + [*range(13, 71)] * 2
    return tuple(sorted({_make_ldh(rng, size) for size in sizes}))


LDH_SAMPLES = _ldh_samples()


def ldh_labels(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    """A letter-digit-hyphen label of ``min_size`` to ``max_size`` characters."""
    return st.sampled_from([x for x in LDH_SAMPLES if min_size <= len(x) <= max_size])


_POOL = st.sampled_from(POOL)

_GOOD_LABEL = st.one_of(_POOL, ldh_labels(), st.sampled_from(tuple(IDN_SPELLINGS)))

#: Canonical labels: a valid one, or an empty, too long, misplaced or bad A-label.
MEANT_LABEL = st.one_of(
    _GOOD_LABEL,
    _GOOD_LABEL,
    _GOOD_LABEL,
    st.just("*"),
    st.just(""),
    ldh_labels(min_size=60, max_size=70),
    st.sampled_from(BAD_A_LABELS),
)


def pad(labels: tuple[str, ...], target: int, char: str) -> tuple[str, ...]:
    """Prefix ``labels`` with long labels so the name is ``target`` characters long."""
    rest = target - len(".".join(labels)) - 1  # characters left for the prefix labels
    prefix: list[str] = []
    while rest > 0:
        size = rest if rest <= MAX_LABEL else MAX_LABEL - 1
        prefix.append(char * size)
        rest -= size + 1
    return (*prefix, *labels)


_PAD = st.tuples(st.integers(MAX_NAME - 3, MAX_NAME + 3), st.sampled_from("abz09"))


SEEDS = st.integers(0, 2**32)


def mixed_rng(seed: int, *drawn: object) -> random.Random:
    """A Random for the cheap choices of one example.

    Hypothesis often reuses a drawn seed while it varies the other draws of an
    example; mixing those draws into the seed keeps the choices varied. Pass
    only values with a stable repr (no sets: their order varies per process).
    """
    return random.Random(f"{seed}:{drawn!r}")


# -- spellings ------------------------------------------------------------


def random_case(rng: random.Random, text: str) -> str:
    """``text`` in lower, upper or a random mix of cases."""
    how = rng.randrange(3)
    if how == 0:
        return text
    if how == 1:
        return text.upper()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


def spell_label(
    rng: random.Random, label: str, *, last: bool, hostile: bool
) -> tuple[str, bool]:
    """One spelling of ``label`` and whether the spelling itself is acceptable."""
    choices = ["case", "case", "case", "case"]
    if label in IDN_SPELLINGS:
        choices += ["unicode", "unicode"]
    if _PLAIN_LDH.match(label) and len(label) <= MAX_LABEL:
        choices.append("fullwidth")
    if label and hostile:
        choices.append("star")
        if not last:  # at the very end strip() would remove it
            choices.append("newline")
    how = rng.choice(choices)
    if how == "unicode":
        return rng.choice(IDN_SPELLINGS[label]), True
    if how == "fullwidth":
        return random_case(rng, "".join(_FULLWIDTH[c] for c in label)), True
    if how == "newline":  # a label with a line break in it is never a label
        return random_case(rng, label) + "\n", False
    if how == "star":  # '*' is a whole label or nothing
        return ("*" + label if rng.random() < 0.5 else label + "*"), False
    return random_case(rng, label), True


def spell(labels: tuple[str, ...], seed: int, *, hostile: bool = True) -> Spelled:
    """A raw spelling of the meant ``labels``, chosen by ``seed``.

    Any spelling may change case, use Unicode or full-width forms, add one
    trailing dot and surrounding whitespace; a ``hostile`` one may also break
    the name (a line break or '*' glued to a label, a Unicode dot, "..").
    """
    rng = mixed_rng(seed, labels)
    ok = True
    raw = ""
    for i, label in enumerate(labels):
        text, label_ok = spell_label(rng, label, last=i == len(labels) - 1, hostile=hostile)
        ok = ok and label_ok
        if i:
            if hostile and rng.random() < 0.05:
                raw += rng.choice(UNICODE_DOTS)
                ok = False
            else:
                raw += "."
        raw += text
    trailing = rng.choice(["", "", ".", ".."] if hostile else ["", "."])
    if labels[-1] == "":
        trailing = "." + trailing  # else "home" + "." + "" would spell a valid "home."
    if trailing.endswith(".."):
        ok = False
    raw += trailing
    if rng.random() < 0.3:
        raw = rng.choice([" ", "\t", "\n", "  "]) + raw
    if rng.random() < 0.3:
        raw += rng.choice([" ", "\t", "\n"])
    return Spelled(labels, raw, ok and structurally_valid(labels))




@st.composite
def spelled_names(draw: st.DrawFn) -> Spelled:
    """Any name: random meant labels (some invalid), sometimes near the length limit."""
    label = _GOOD_LABEL if draw(st.booleans()) else MEANT_LABEL
    labels = tuple(draw(st.lists(label, min_size=1, max_size=6)))
    if draw(st.integers(0, 4)) == 0:
        target, char = draw(_PAD)
        labels = pad(labels, target, char)
    return spell(labels, draw(SEEDS), hostile=draw(st.booleans()))


#: Ways to derive a name from an anchor; the last four usually make it invalid.
RELATIONS = (
    "same", "child", "grandchild", "acme", "acme-acme", "wildcard", "wildcard-child",
    "parent", "sibling", "glued-prefix", "glued-suffix", "glued-across-dot",
    "empty-label", "long-label", "padded", "star-inside",
)
#: Mostly names that normalize, so the decision itself gets exercised.
RELATION = st.sampled_from(RELATIONS[:-4] * 3 + RELATIONS[-4:])


def relate(base: tuple[str, ...], how: str, rng: random.Random) -> tuple[str, ...]:
    """A name near ``base``: itself, below, above, beside, glued to it, or broken."""
    # Gluing onto an A-label makes a label whose validity only an IDNA library
    # could tell; turn it into a plain LDH label ("xxn--...") instead.
    return tuple(
        "x" + label
        if label.startswith("xn--") and label not in IDN_SPELLINGS and label not in BAD_A_LABELS
        else label
        for label in _relate(base, how, rng)
    )


def _relate(base: tuple[str, ...], how: str, rng: random.Random) -> tuple[str, ...]:
    head, tail = base[0], base[1:]
    pick = rng.choice
    if how == "same":
        return base
    if how == "child":
        return (pick(POOL), *base)
    if how == "grandchild":
        return (pick(POOL), pick(POOL), *base)
    if how == "acme":
        return (ACME, *base)
    if how == "acme-acme":
        return (ACME, ACME, *base)
    if how == "wildcard":
        return ("*", *base)
    if how == "wildcard-child":
        return ("*", pick(POOL), *base)
    if how == "parent":
        return tail or base
    if how == "sibling":
        return (pick(POOL), *tail)
    if how == "glued-prefix":  # xhome.example.test against home.example.test
        return (pick(["x", "evil", "a-", "_", "1"]) + head, *tail)
    if how == "glued-suffix":  # homex.example.test against home.example.test
        return (head + pick(["x", "-evil", "_", "0"]), *tail)
    if how == "glued-across-dot":  # homeexample.test against home.example.test
        return (head + tail[0], *tail[1:]) if tail else base
    if how == "empty-label":
        at = rng.randrange(len(base))
        return (*base[:at], "", *base[at:])
    if how == "long-label":
        return ("q" * rng.randint(MAX_LABEL - 1, MAX_LABEL + 2), *base)
    if how == "padded":
        return pad(base, rng.randint(MAX_NAME - 3, MAX_NAME + 3), pick("abz"))
    assert how == "star-inside"  # a wildcard label that is not the leftmost one
    return (pick(POOL), "*", *base)


def related_labels(anchors: tuple[tuple[str, ...], ...]) -> st.SearchStrategy[tuple[str, ...]]:
    """Meant labels of a name near one of ``anchors``."""
    return st.builds(
        lambda base, how, seed: relate(base, how, mixed_rng(seed, base, how)),
        st.sampled_from(anchors), RELATION, SEEDS,
    )


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


# -- the ownership oracle: attached names, from the table in domain/ownership.py --

def _n(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


_EXACT = {("_acme-challenge",), ("_dmarc",), ("_mta-sts",), ("_smtp", "_tls")}
_PROTOCOLS = {"_tcp", "_udp", "_sctp", "_dccp"}


def _directly_attached(relative: tuple[str, ...], extra: frozenset[str]) -> bool:
    """Do the labels between a name and a candidate base (left to right) make
    the name one of the base's attached names (one step, no nesting)?"""
    if relative in _EXACT:
        return True
    if (len(relative) == 2 and relative[1] in _PROTOCOLS and relative[0].startswith("_")
            and relative[0] != "_"):
        return True
    return bool(relative) and (relative[-1] == "_domainkey" or relative[-1] in extra)


def _relative(name: dns.name.Name, base: dns.name.Name) -> tuple[str, ...]:
    return tuple(label.decode() for label in name.relativize(base).labels)


@functools.cache
def oracle_attached_to(name: str, base: str, extra: frozenset[str]) -> bool:
    """Is ``name`` attached to ``base``, directly or through a chain of attachments?"""
    n, b = _n(name), _n(base)
    if not (n.is_subdomain(b) and n != b):
        return False
    if _directly_attached(_relative(n, b), extra):
        return True
    middle = n.parent()
    while middle != b:
        if (_directly_attached(_relative(n, middle), extra)
                and oracle_attached_to(middle.to_text(True), base, extra)):
            return True
        middle = middle.parent()
    return False


@functools.cache
def oracle_base_and_root(name: str, zone: str,
                         extra: frozenset[str]) -> tuple[str, str] | None:
    """The highest base at or below the zone that ``name`` is attached to, and the
    shortest attached name on the way from that base to ``name``."""
    n, z = _n(name), _n(zone)
    candidates = []
    ancestor = n.parent() if n != z else n
    while ancestor.is_subdomain(z):
        if oracle_attached_to(name, ancestor.to_text(True), extra):
            candidates.append(ancestor)
        if ancestor == z:
            break
        ancestor = ancestor.parent()
    if not candidates:
        return None
    base = min(candidates, key=len)
    root = n
    step = n.parent()
    while step != base:
        if oracle_attached_to(step.to_text(True), base.to_text(True), extra):
            root = step
        step = step.parent()
    return base.to_text(True), root.to_text(True)


def oracle_contains(claim: str, kind: str, name: str) -> bool:
    n, c = _n(name), _n(claim)
    return {"host": n == c, "subtree": n.is_subdomain(c),
            "below": n.is_subdomain(c) and n != c}[kind]


def oracle_holds(claim: str, kind: str, name: str, zone: str,
                 extra: frozenset[str] = frozenset()) -> bool:
    found = oracle_base_and_root(name, zone, extra)
    if found is None:
        return oracle_contains(claim, kind, name)
    base, root = found
    return oracle_contains(claim, kind, base) or (
        oracle_contains(claim, kind, name) and _n(claim).is_subdomain(_n(root)))
