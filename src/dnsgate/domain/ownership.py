"""What a DNS name controls beyond itself, and who holds which name.

The one place that lists the names attached to another name, the record
types whose effect reaches below their owner, and what a claim holds. Both
``policy.decide`` (writes) and ``claims.judge_claim`` (claims) ask it, so a
claim and a write on ``_acme-challenge.www`` are judged alike: as acts on
``www``.

Attached names (each belongs to whoever controls its base ``X``):

=======================  ==============================================  =========
owner name               why it belongs to ``X``                         reference
=======================  ==============================================  =========
``_acme-challenge.X``    DNS-01 proves control of ``X`` and ``*.X``      RFC 8555
``_dmarc.X``             mail authentication policy of ``X``             RFC 7489
``_domainkey.X`` and     DKIM keys that sign mail as ``X``               RFC 6376
everything below it
``_mta-sts.X``           MTA-STS policy of ``X``                         RFC 8461
``_smtp._tls.X``         TLS reporting of ``X``                          RFC 8460
``_<port>._<proto>.X``   TLSA and SRV of ``X`` (``_tcp``, ``_udp``,      RFC 6698,
                         ``_sctp``, ``_dccp``)                           RFC 2782
=======================  ==============================================  =========

A zone may add labels (``ZonePolicy.attached_labels``); each added label
``L`` makes ``L.X`` and everything below it belong to ``X``, like
``_domainkey``. Attachments nest (``_acme-challenge._dmarc.X`` belongs to
``X``); a base above the zone's apex is the apex.

A wildcard ``*.P`` of TXT, CNAME, TLSA or SRV answers for every attached
name of ``P`` that does not exist, so only ``P``'s holder writes it.

Records whose effect reaches below their owner name: NS (delegates the
subtree), DNAME (rewrites it), CAA (inherited by descendants that have none,
RFC 8659). Only a realm that holds the name and everything below it, with no
other account's claim inside, writes them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from dnsgate.domain import names

#: Leftmost labels that attach exactly one name to its parent.
EXACT_LABELS: Final = frozenset({"_acme-challenge", "_dmarc", "_mta-sts"})
#: Labels that attach themselves and everything below them to their parent.
SUBTREE_LABELS: Final = frozenset({"_domainkey"})
#: Second labels of ``_<port>._<proto>.X`` (TLSA, SRV).
PROTOCOL_LABELS: Final = frozenset({"_tcp", "_udp", "_sctp", "_dccp"})
#: Record types whose effect reaches the names below their owner.
REACHING_TYPES: Final = frozenset({"NS", "DNAME", "CAA"})
#: Types an attached name is read for: a wildcard ``*.P`` of one of them answers
#: for ``P``'s attached names that do not exist (a CA follows it), so it is
#: written only by ``P``'s holder.
SHADOWING_TYPES: Final = frozenset({"TXT", "CNAME", "TLSA", "SRV"})


@dataclass(frozen=True, slots=True)
class Attachment:
    """Where an attached name hangs: ``root`` is the outermost attached name
    (``_domainkey.X`` for ``s1._domainkey.X``), ``base`` the name it belongs to."""

    root: str
    base: str


def _direct(relative: list[str], extra: frozenset[str]) -> bool:
    """Do these labels (left to right) make a name one of the attached names of
    the name right of them, in one step of the table?"""
    if len(relative) == 1 and relative[0] in EXACT_LABELS:
        return True
    if len(relative) == 2 and (
            (relative[0] == "_smtp" and relative[1] == "_tls")
            or (relative[0].startswith("_") and relative[0] != "_"
                and relative[1] in PROTOCOL_LABELS)):
        return True
    return bool(relative) and (relative[-1] in SUBTREE_LABELS or relative[-1] in extra)


@functools.lru_cache(maxsize=1 << 14)
def attachment(name: str, zone: str,
               extra: frozenset[str] = frozenset()) -> Attachment | None:
    """The attachment of ``name`` (in ``zone``), or None for a name that stands alone.

    Attachments nest, and some spellings parse two ways ("_dmarc._tcp.X" is a
    service name of X as well as the DMARC name of "_tcp.X"): the base is the
    highest name at or below the apex that ``name`` is attached to, through
    any chain of steps.
    """
    if "_" not in name and not extra:  # every attaching label starts with "_"
        return None
    labels = name.split(".")
    last = len(labels) - (zone.count(".") + 1)  # index of the apex's first label
    if last <= 0:
        return None
    # chain[i]: labels[i:] is attached (one or more steps) to labels[base:], for
    # the base tried; filled right to left.
    for base in range(last, 0, -1):  # the highest base first
        chain = [False] * base
        for i in range(base - 1, -1, -1):
            chain[i] = _direct(labels[i:base], extra) or any(
                chain[m] and _direct(labels[i:m], extra) for m in range(i + 1, base))
        if chain[0]:
            root = max(i for i in range(base) if chain[i])  # the shortest attached name
            return Attachment(root=".".join(labels[root:]), base=".".join(labels[base:]))
    return None


def governing_base(name: str, zone: str, extra: frozenset[str] = frozenset()) -> str:
    """The name whose holder controls ``name`` (``name`` itself if not attached)."""
    found = attachment(name, zone, extra)
    return name if found is None else found.base


def holds(claim: str, kind: str, name: str, zone: str,
          extra: frozenset[str] = frozenset()) -> bool:
    """Whether a claim of ``kind`` on ``claim`` controls ``name``.

    A plain name: the claim covers it. An attached name: the claim covers its
    base (a ``host`` claim on ``X`` holds ``_acme-challenge.X``), or the claim
    was made inside the attachment itself (a claim on ``_acme-challenge.X``,
    which ``judge_claim`` lets through only with the base's holder or an
    admin). So a ``below`` claim on ``X`` covers ``_acme-challenge.X`` by
    name but does not hold it: it governs ``X``, which that claim leaves out.
    """
    found = attachment(name, zone, extra)
    if found is None:
        return names.claim_contains(claim, kind, name)
    if names.claim_contains(claim, kind, found.base):
        return True
    return names.claim_contains(claim, kind, name) and names.is_at_or_below(claim, found.root)


#: Children tried when two claims are compared: one per kind of attachment,
#: and a plain child for two claims that meet only below their names.
_PROBES: Final = ("_acme-challenge", "_dmarc", "s._domainkey", "_domainkey", "_mta-sts",
                  "_smtp._tls", "_443._tcp", "_tcp", "_tls", "x--probe")


def _witnesses(claim: str, zone: str, extra: frozenset[str]) -> Iterable[str]:
    """Names at which a claim on ``claim`` can meet another: itself, its base,
    and a child of each kind below it (extra labels included)."""
    yield claim
    yield governing_base(claim, zone, extra)
    for probe in (*_PROBES, *extra):
        child = f"{probe}.{claim}"
        if len(child) <= names.MAX_NAME:
            yield child


def claims_meet(a: str, a_kind: str, b: str, b_kind: str, zone: str,
                extra: frozenset[str] = frozenset()) -> bool:
    """True if some name is held by both claims (two accounts' claims must not meet).

    Checked at witness names; ``tests/unit/domain/test_ownership.py`` compares
    it with a search over every name of a generated universe.
    """
    return any(
        holds(a, a_kind, n, zone, extra) and holds(b, b_kind, n, zone, extra)
        for n in (*_witnesses(a, zone, extra), *_witnesses(b, zone, extra)))


def wildcard_shadows(rtype: str) -> bool:
    """Whether a wildcard of ``rtype`` can stand in for an attached name."""
    return rtype in SHADOWING_TYPES


def reaches_below(rtype: str) -> bool:
    """Whether a record of ``rtype`` acts on the names below its owner."""
    return rtype in REACHING_TYPES


def holds_everything_below(claim: str, kind: str, name: str) -> bool:
    """Whether a claim covers ``name`` and every name below it (``host`` never does)."""
    if kind == "subtree":
        return names.is_at_or_below(name, claim)
    if kind == "below":
        return names.is_strictly_below(name, claim)
    return False
