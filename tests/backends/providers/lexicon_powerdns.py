"""Contract harness for the lexicon bridge: lexicon's ``powerdns`` provider
against its own pdns_server (gsqlite3), with a FaultProxy for faults.

Lexicon cannot list zones, so the contract's ``zones()`` check does not
apply (the adapter declares ``list_zones=False``). ``check()`` needs a zone
to authenticate against: the harness creates one for ``check_domain``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.backends.harness import FAULT_TIMEOUT, Fault
from tests.backends.providers.powerdns import lookup_dns
from tests.support import pdns
from tests.support.faultproxy import FaultProxy

_COUNTER = itertools.count(1)


class LexiconPowerDNSHarness:
    provider = "lexicon"

    def __init__(self, workdir: Path) -> None:
        self.server = pdns.start(workdir / "pdns")
        try:
            self.proxy = FaultProxy("127.0.0.1", self.server.api_port)
        except BaseException:
            self.server.stop()
            raise
        self.tag = f"lx{os.getpid()}"
        self.check_zone = self.new_zone()

    def _config(self, url: str, key: str) -> dict[str, Any]:
        return {"provider_name": "powerdns",
                "credentials": {"pdns_server": url, "auth_token": key},
                "check_domain": self.check_zone}

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
            yield {**self._config(self.proxy.url, self.server.api_key), "timeout": FAULT_TIMEOUT}

    def lookup(self, zone: str, name: str, rtype: str) -> list[str]:
        return lookup_dns(self.server.dns_port, name, rtype)

    def stop(self) -> None:
        try:
            self.proxy.stop()
        finally:
            self.server.stop()


def start(workdir: Path) -> LexiconPowerDNSHarness:
    return LexiconPowerDNSHarness(workdir)
