"""Cloudflare: the API v4 simulator (tests/fakes/cloudflare.py) on a loopback port.

Faults go through a FaultProxy in front of the simulator, so ``config()``
keeps working while a faulty configuration fails.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
from collections.abc import Iterator
from typing import Any

from dnsgate.domain.records import canonical_rdata
from tests.backends.harness import FAULT_TIMEOUT, Fault
from tests.fakes.cloudflare import PREFIX, CloudflareSimulator
from tests.support.faultproxy import FaultProxy

_serial = itertools.count(1)


class CloudflareHarness:
    provider = "cloudflare"

    def __init__(self) -> None:
        self.simulator = CloudflareSimulator()
        self.token = self.simulator.add_token()
        self.proxy = FaultProxy("127.0.0.1", self.simulator.port)

    def config(self) -> dict[str, Any]:
        return {"api_token": self.token, "api_url": self.simulator.api_url}

    def bad_credentials(self) -> dict[str, Any]:
        wrong = ("x" if not self.token.startswith("x") else "y") + self.token[1:]
        return {"api_token": wrong, "api_url": self.simulator.api_url}

    def new_zone(self) -> str:
        # Unique per pytest worker (pid) and per call; SOA and apex NS are
        # served by Cloudflare itself, so a new zone has no records in the API.
        name = f"z{next(_serial)}-p{os.getpid()}.example"
        self.simulator.add_zone(name)
        return name

    @contextlib.contextmanager
    def fault(self, mode: Fault) -> Iterator[dict[str, Any]]:
        config = {"api_token": self.token, "api_url": self.proxy.url + PREFIX,
                  "timeout": FAULT_TIMEOUT}
        with self.proxy.fault(mode):
            yield config

    def lookup(self, zone: str, name: str, rtype: str) -> list[str]:
        # The simulator's own state, rendered as Cloudflare would serve it.
        return sorted(canonical_rdata(rtype, text)
                      for text in self.simulator.presentation(zone, name, rtype))

    def stop(self) -> None:
        try:
            self.proxy.stop()
        finally:
            self.simulator.stop()


def start(workdir: pathlib.Path) -> CloudflareHarness:
    _ = workdir  # everything lives in memory
    return CloudflareHarness()
