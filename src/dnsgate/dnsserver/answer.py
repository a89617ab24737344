"""Authoritative answers from zone views: RFC 1034 4.3.2, RFC 2308, RFC 4592, RFC 8482.

Pure functions over a query message and the views; no sockets here.
"""

from __future__ import annotations

from collections.abc import Mapping

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from dnsgate.dnsserver.zoneview import Name, ZoneView

MAX_CHAIN = 8
_GLUE_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def find_zone(views: Mapping[Name, ZoneView], qname: Name) -> ZoneView | None:
    """The served zone with the longest origin at or above ``qname``."""
    name = qname
    while True:
        view = views.get(name)
        if view is not None:
            return view
        if name == dns.name.root:
            return None
        name = name.parent()


def answer(views: Mapping[Name, ZoneView], query: dns.message.Message,
           response: dns.message.Message) -> None:
    """Fill ``response`` (made from ``query``) for its single question."""
    question = query.question[0]
    view = find_zone(views, question.name)
    if view is None:
        response.set_rcode(dns.rcode.REFUSED)
        return
    response.flags |= dns.flags.AA
    _resolve(view, question.name, question.rdtype, response, depth=0)


def _rename(rrset: dns.rrset.RRset, owner: Name) -> dns.rrset.RRset:
    if rrset.name == owner:
        return rrset
    return dns.rrset.from_rdata_list(owner, rrset.ttl, list(rrset))


def _negative(view: ZoneView, response: dns.message.Message, rcode: dns.rcode.Rcode) -> None:
    response.authority.append(
        dns.rrset.from_rdata_list(view.origin, view.negative_ttl, list(view.soa)))
    response.set_rcode(rcode)


def _cut_above(view: ZoneView, qname: Name, qtype: int) -> Name | None:
    """The highest delegation point at or above ``qname`` (below the apex).

    DS at the cut itself belongs to the parent, so it is not a referral.
    """
    if not view.cuts:
        return None
    found = None
    name = qname
    while name != view.origin:
        if name in view.cuts and not (name == qname and qtype == dns.rdatatype.DS):
            found = name
        name = name.parent()
    return found


def _referral(view: ZoneView, cut: Name, response: dns.message.Message) -> None:
    ns = view.nodes[cut][dns.rdatatype.NS]
    response.flags &= ~dns.flags.AA
    response.authority.append(ns)
    for rdata in ns:
        target = rdata.target
        if not target.is_subdomain(view.origin):
            continue
        node = view.nodes.get(target, {})
        for rdtype in _GLUE_TYPES:
            glue = node.get(rdtype)
            if glue is not None and glue not in response.additional:
                response.additional.append(glue)


def _wildcard_source(view: ZoneView, qname: Name) -> Name | None:
    """RFC 4592: ``*.<closest encloser>`` if that wildcard exists."""
    encloser = qname.parent()
    while not view.exists(encloser):
        if encloser == view.origin:
            break
        encloser = encloser.parent()
    source = dns.name.Name((b"*", *encloser.labels))
    return source if source in view.nodes else None


def _resolve(view: ZoneView, qname: Name, qtype: int, response: dns.message.Message,
             depth: int) -> None:
    cut = _cut_above(view, qname, qtype)
    if cut is not None:
        if depth == 0:
            _referral(view, cut, response)
        return
    node = view.nodes.get(qname)
    if node is None:
        if view.exists(qname):  # an empty non-terminal: NODATA
            _negative(view, response, dns.rcode.NOERROR)
            return
        source = _wildcard_source(view, qname)
        if source is None:
            _negative(view, response, dns.rcode.NXDOMAIN)
            return
        node = view.nodes[source]
    if qtype == dns.rdatatype.ANY:
        # RFC 8482: answer with one RRset, never the whole node.
        first = min(node)
        response.answer.append(_rename(node[first], qname))
        return
    rrset = node.get(dns.rdatatype.RdataType(qtype))
    if rrset is not None:
        response.answer.append(_rename(rrset, qname))
        return
    cname = node.get(dns.rdatatype.CNAME)
    if cname is not None and qtype != dns.rdatatype.CNAME:
        response.answer.append(_rename(cname, qname))
        target = cname[0].target
        looped = any(rrset.name == target for rrset in response.answer)
        if depth < MAX_CHAIN and target.is_subdomain(view.origin) and not looped:
            _resolve(view, target, qtype, response, depth + 1)
        return
    _negative(view, response, dns.rcode.NOERROR)
