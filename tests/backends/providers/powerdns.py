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
import dns.name
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
    owner = dns.name.from_text(name)
    answer = dns.query.tcp(dns.message.make_query(owner, rtype), "127.0.0.1", port=port,
                           timeout=5)
    assert answer.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), answer
    wanted = dns.rdatatype.from_text(rtype)
    out: set[str] = set()
    for rrset in answer.answer:
        if rrset.rdtype == wanted and rrset.name == owner:
            out.update(canonical_rdata(rtype, rdata.to_text()) for rdata in rrset)
    return sorted(out)


class PowerDNSHarness:
    provider = "powerdns"
    tag_prefix = "gw"

    def __init__(self, workdir: Path) -> None:
        self.server = pdns.start(workdir / "pdns")
        try:
            self.proxy = FaultProxy("127.0.0.1", self.server.api_port)
        except BaseException:
            self.server.stop()
            raise
        self.tag = f"{self.tag_prefix}{os.getpid()}"

    def _config(self, url: str, key: str) -> dict[str, Any]:
        """The provider configuration reaching the PowerDNS API at ``url``."""
        return {"api_url": url, "api_key": key}

    def config(self) -> dict[str, Any]:
        return self._config(self.server.api_url, self.server.api_key)

    def bad_credentials(self) -> dict[str, Any]:
        return self._config(self.server.api_url, "wrong-" + secrets.token_urlsafe(16))

    def new_zone(self) -> str:
        zone = f"z{next(_COUNTER)}-{self.tag}.example"
        self.server.create_zone(zone)
        return zone

    @contextlib.contextmanager
    def fault(self, mode: Fault) -> Iterator[dict[str, Any]]:
        with self.proxy.fault(mode):
            yield {**self._config(self.proxy.url, self.server.api_key),
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
