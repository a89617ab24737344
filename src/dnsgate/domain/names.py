"""DNS owner names: the one normalizer, and label-wise comparison.

Every name that enters dnsgate (URL path, JSON body, CLI argument, protocol
facade) goes through :func:`normalize` exactly once. The result is the
canonical text form used everywhere inside: A-labels (IDNA UTS-46),
lowercase, no trailing dot. Names are then compared label by label with
:func:`labels`, :func:`is_at_or_below` and :func:`is_strictly_below` -- never
with ``str.endswith``, which is how ``evilexample.test`` slips past
``example.test``.
"""

from __future__ import annotations

import re

import idna

from dnsgate.domain.errors import InvalidName

MAX_LABEL = 63
MAX_NAME = 253  # presentation form without the trailing dot
WILDCARD = "*"
ACME_CHALLENGE = "_acme-challenge"

# Letters, digits, hyphen, and underscore (service labels such as _tcp,
# _acme-challenge, _dmarc are ordinary owner names in DNS).
_ASCII_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


def normalize(text: str, *, allow_wildcard: bool = True) -> str:
    """Return the canonical form of an absolute name, or raise InvalidName.

    Accepts one trailing dot, any case, and Unicode labels (mapped with
    UTS-46 to A-labels). A ``*`` is allowed only as the whole leftmost label.
    """
    if not isinstance(text, str):
        raise InvalidName("name must be a string")
    name = text.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise InvalidName("name is empty")
    parts = name.split(".")
    out = [_normalize_label(part, first=(i == 0), allow_wildcard=allow_wildcard)
           for i, part in enumerate(parts)]
    result = ".".join(out)
    if len(result) > MAX_NAME:
        raise InvalidName(f"name is longer than {MAX_NAME} characters")
    return result


def _normalize_label(label: str, *, first: bool, allow_wildcard: bool) -> str:
    if not label:
        raise InvalidName("name has an empty label")
    if label == WILDCARD:
        if first and allow_wildcard:
            return label
        raise InvalidName("'*' is allowed only as the leftmost label")
    if label.isascii():
        lowered = label.lower()
        if lowered.startswith("xn--"):
            _check_a_label(lowered)
        elif not _ASCII_LABEL.fullmatch(lowered):
            raise InvalidName(f"invalid label {label!r}")
        if len(lowered) > MAX_LABEL:
            raise InvalidName(f"label longer than {MAX_LABEL} characters")
        return lowered
    try:
        encoded = idna.encode(label, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidName(f"invalid internationalized label {label!r}") from exc
    if "." in encoded:  # UTS-46 maps some characters (e.g. U+3002) to dots
        raise InvalidName(f"invalid internationalized label {label!r}")
    if len(encoded) > MAX_LABEL:
        raise InvalidName(f"label longer than {MAX_LABEL} characters")
    return encoded


def _check_a_label(label: str) -> None:
    # An A-label must be the one encoding of its U-label (RFC 5891 5.4):
    # "xn---00k" decodes to the same text as "xn--00k" but is not it.
    try:
        round_trip = idna.encode(idna.decode(label)).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidName(f"invalid punycode label {label!r}") from exc
    if round_trip != label:
        raise InvalidName(f"invalid punycode label {label!r}")


def resolve(text: str, zone: str, *, allow_wildcard: bool = True) -> str:
    """Resolve a possibly relative name against a normalized zone.

    ``@`` (or empty) is the apex; a name with a trailing dot, or one already
    at or below the zone, is absolute; anything else is relative to the zone.
    """
    stripped = text.strip()
    if stripped in ("", "@"):
        return zone
    if stripped.endswith("."):
        return normalize(stripped, allow_wildcard=allow_wildcard)
    name = normalize(stripped, allow_wildcard=allow_wildcard)
    if is_at_or_below(name, zone):
        return name
    return normalize(f"{name}.{zone}", allow_wildcard=allow_wildcard)


def labels(name: str) -> tuple[str, ...]:
    """Labels of a normalized name, most significant (rightmost) first."""
    return tuple(reversed(name.split(".")))


def is_at_or_below(name: str, ancestor: str) -> bool:
    """True if ``name`` equals ``ancestor`` or lies below it (label-wise)."""
    a = labels(ancestor)
    n = labels(name)
    return len(n) >= len(a) and n[: len(a)] == a


def is_strictly_below(name: str, ancestor: str) -> bool:
    """True if ``name`` lies strictly below ``ancestor`` (label-wise)."""
    a = labels(ancestor)
    n = labels(name)
    return len(n) > len(a) and n[: len(a)] == a


def depth_below(name: str, ancestor: str) -> int:
    """Number of labels ``name`` has beyond ``ancestor`` (0 at the apex).

    The caller guarantees ``is_at_or_below(name, ancestor)``.
    """
    return name.count(".") - ancestor.count(".")


def is_wildcard(name: str) -> bool:
    """True for a wildcard owner name such as ``*.lab.example.test``."""
    return name == WILDCARD or name.startswith("*.")


def parent(name: str) -> str:
    """The name with its leftmost label removed ('' for a single label)."""
    _, _, rest = name.partition(".")
    return rest


def acme_challenge_of(name: str) -> str:
    """The DNS-01 challenge owner for a host name."""
    return f"{ACME_CHALLENGE}.{name}"


def claim_contains(claim: str, kind: str, name: str) -> bool:
    """True if a realm claim of ``kind`` on ``claim`` covers ``name``.

    ``host`` covers the name itself, ``subtree`` the name and everything
    below it, ``below`` only what is strictly below it. A wildcard owner
    ``*.x`` is a name below ``x``. (What a claim *holds* -- attached names
    such as ``_acme-challenge.x`` -- is ``ownership.holds``.)
    """
    if kind == "host":
        return name == claim
    if kind == "subtree":
        return is_at_or_below(name, claim)
    return is_strictly_below(name, claim)


def in_zone(text: str, zone: str) -> str:
    """An owner name given absolute (or ``@``) that must lie at or below ``zone``."""
    stripped = text.strip()
    name = zone if stripped == "@" else normalize(stripped)
    if not is_at_or_below(name, zone):
        raise InvalidName(f"{name} is not in zone {zone}")
    return name
