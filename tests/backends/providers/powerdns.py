"""Contract harness: a real pdns_server (gsqlite3) behind a FaultProxy."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from dnsgate.domain.records import canonical_rdata
from tests.backends.harness import FAULT_TIMEOUT, Fault
from tests.support import pdns
from tests.support.faultproxy import FaultProxy

_COUNTER = itertools.count(1)


def lookup_dns(port: int, name: str, rtype: str) -> list[str]:
    """What the server answers for (name, rtype), canonical and sorted."""
    query = dns.message.make_query(f"{name}.", rtype)
    answer = dns.query.tcp(query, "127.0.0.1", port=port, timeout=5)
    assert answer.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), answer
    wanted = dns.rdatatype.from_text(rtype)
    out: set[str] = set()
    for rrset in answer.answer:
        if rrset.rdtype == wanted and rrset.name.to_text().rstrip(".").lower() == name:
            out.update(canonical_rdata(rtype, rdata.to_text()) for rdata in rrset)
    return sorted(out)


class PowerDNSHarness:
    provider = "powerdns"

    def __init__(self, workdir: Path) -> None:
        self.server = pdns.start(workdir / "pdns")
        try:
            self.proxy = FaultProxy("127.0.0.1", self.server.api_port)
        except BaseException:
            self.server.stop()
            raise
        self.tag = f"gw{os.getpid()}"

    def config(self) -> dict[str, Any]:
        return {"api_url": self.server.api_url, "api_key": self.server.api_key}

    def bad_credentials(self) -> dict[str, Any]:
        return {"api_url": self.server.api_url, "api_key": "wrong-" + secrets.token_urlsafe(16)}

    def new_zone(self) -> str:
        zone = f"z{next(_COUNTER)}-{self.tag}.example"
        self.server.create_zone(zone)
        return zone

    @contextlib.contextmanager
    def fault(self, mode: Fault) -> Iterator[dict[str, Any]]:
        with self.proxy.fault(mode):
            yield {"api_url": self.proxy.url, "api_key": self.server.api_key,
                   "timeout": FAULT_TIMEOUT}

    def lookup(self, zone: str, name: str, rtype: str) -> list[str]:
        return lookup_dns(self.server.dns_port, name, rtype)

    def stop(self) -> None:
        try:
            self.proxy.stop()
        finally:
            self.server.stop()


def start(workdir: Path) -> PowerDNSHarness:
    return PowerDNSHarness(workdir)
