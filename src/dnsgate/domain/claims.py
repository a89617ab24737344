"""Whether a claim on part of a zone may be made, and whether it waits for an admin.

The services gather the zone's live claims and the RRsets the new claim would
hold (with who wrote each); :func:`judge_claim` decides, with no I/O:

====  ===================================================  ==================
row   condition                                            outcome
====  ===================================================  ==================
1     another account's live claim holds a name this one   conflict (409)
      would hold (``ownership.claims_meet``)
2     made by an admin                                     approved
3     a ``subtree``/``below`` claim at the apex, or one    waits: ``apex``
      that holds an attached name of the apex
4     a claim on an attached name whose base the           waits:
      claimant does not hold through an approved claim     ``attached_base``
5     RRsets the claimant did not write lie in what the    waits:
      claim would hold (the approval hands them over)      ``existing_data``
6     the zone approves by hand                            waits:
                                                           ``zone_approval``
7     otherwise                                            approved
====  ===================================================  ==================

Rows 3-6 all apply: a waiting claim lists every reason, for the admin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from dnsgate.domain import ownership
from dnsgate.domain.policy import ZoneClaim, ZonePolicy

WriterKind = Literal["self", "operator", "account", "outside"]
#: Attached names of the apex tried for row 3, one per kind of attachment.
_APEX_ATTACHED: Final = ("_acme-challenge", "_dmarc", "s._domainkey", "_mta-sts",
                         "_smtp._tls", "_443._tcp")


@dataclass(frozen=True, slots=True)
class Writer:
    """Who last wrote an RRset through dnsgate: the claimant itself, the operator
    (an admin or the console), a realm of another account, or nobody known."""

    kind: WriterKind
    account_id: int | None = None
    realm_id: int | None = None


@dataclass(frozen=True, slots=True)
class FoundRRset:
    """An RRset a new claim would hold, and who wrote it."""

    name: str
    type: str
    writer: Writer


@dataclass(frozen=True, slots=True)
class ClaimVerdict:
    """Approved at once, or pending with the reasons (rows 3-6) and the RRsets
    an approval hands over."""

    approved: bool
    reasons: tuple[str, ...]
    handover: tuple[FoundRRset, ...]


def conflicting_claim(claim: ZoneClaim, zone: ZonePolicy,
                      live: Iterable[ZoneClaim]) -> ZoneClaim | None:
    """Row 1: another account's live claim that meets ``claim``, if any."""
    for other in live:
        if other.account_id != claim.account_id and ownership.claims_meet(
                claim.name, claim.kind, other.name, other.kind, zone.name,
                zone.attached_labels):
            return other
    return None


def held_names(claim: ZoneClaim, zone: ZonePolicy, candidates: Iterable[str]) -> list[str]:
    """The names among ``candidates`` that ``claim`` would hold."""
    return [name for name in candidates if ownership.holds(
        claim.name, claim.kind, name, zone.name, zone.attached_labels)]


def judge_claim(*, claim: ZoneClaim, zone: ZonePolicy, auto_approve: bool, by_admin: bool,
                approved_own: Sequence[ZoneClaim], found: Sequence[FoundRRset]) -> ClaimVerdict:
    """Rows 2-7 of the table: approved now, or pending and why.

    ``approved_own`` are the claimant's approved claims in the zone, ``found``
    the RRsets ``claim`` would hold (see :func:`held_names`). Row 1 is
    :func:`conflicting_claim`, asked first under the zone's claim lock.
    """
    foreign = tuple(rr for rr in found if rr.writer.kind != "self")
    if by_admin:
        return ClaimVerdict(True, (), foreign)
    reasons: list[str] = []
    if _touches_apex(claim, zone):
        reasons.append("apex")
    base = ownership.governing_base(claim.name, zone.name, zone.attached_labels)
    if base != claim.name and not any(
            ownership.holds(own.name, own.kind, base, zone.name, zone.attached_labels)
            for own in approved_own):
        reasons.append("attached_base")
    if foreign:
        reasons.append("existing_data")
    if not auto_approve:
        reasons.append("zone_approval")
    return ClaimVerdict(not reasons, tuple(reasons), foreign)


def _touches_apex(claim: ZoneClaim, zone: ZonePolicy) -> bool:
    """Row 3: a subtree/below claim at the apex, or one holding the apex's attached names."""
    apex = zone.name
    if claim.name == apex and claim.kind != "host":
        return True
    probes = (*_APEX_ATTACHED, *zone.attached_labels)
    return any(ownership.holds(claim.name, claim.kind, f"{probe}.{apex}", apex,
                               zone.attached_labels) for probe in probes)
