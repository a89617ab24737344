"""netcup for the contract suite: the CCP DNS API simulator on a loopback port.

netcup itself cannot run here; ``tests/fakes/netcup.py`` simulates its
documented JSON API (and is checked against dns-lexicon's netcup client in
``test_netcup_simulator.py``). Faults go through a FaultProxy in front of it,
so ``config()`` keeps working while a faulty path fails.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
import secrets
from collections.abc import Iterator
from typing import Any

from dnsgate.domain.records import canonical_rdata
from tests.backends.harness import FAULT_TIMEOUT, Fault
from tests.fakes.netcup import ENDPOINT_PATH, NetcupSimulator
from tests.support.faultproxy import FaultProxy

#: The TTL of every zone ``new_zone()`` creates (netcup has one TTL per zone).
ZONE_TTL = 300


class NetcupHarness:
    provider = "netcup"

    def __init__(self) -> None:
        self.simulator = NetcupSimulator(customer_number="271828").start()
        self.proxy = FaultProxy("127.0.0.1", self.simulator.port)
        self._numbers = itertools.count(1)
        self._tag = f"{os.getpid():x}{secrets.token_hex(2)}"

    def config(self) -> dict[str, Any]:
        sim = self.simulator
        return {"customer_number": sim.customer_number, "api_key": sim.api_key,
                "api_password": sim.api_password, "endpoint": sim.url,
                "zones": sim.zone_names(), "timeout": 5}

    def bad_credentials(self) -> dict[str, Any]:
        return {**self.config(), "api_password": "wrong-" + secrets.token_urlsafe(12)}

    def new_zone(self) -> str:
        zone = f"z{next(self._numbers)}-{self._tag}.example"
        # A fresh netcup zone comes with a few records of its own.
        self.simulator.add_zone(zone, ttl=ZONE_TTL, records=[
            ("@", "A", "192.0.2.80"), ("@", "MX", f"mail.{zone}", "10"),
            ("mail", "A", "192.0.2.25")])
        return zone

    @contextlib.contextmanager
    def fault(self, mode: Fault) -> Iterator[dict[str, Any]]:
        config = {**self.config(), "timeout": FAULT_TIMEOUT,
                  "endpoint": f"{self.proxy.url}{ENDPOINT_PATH}?JSON"}
        with self.proxy.fault(mode):
            yield config

    def lookup(self, zone: str, name: str, rtype: str) -> list[str]:
        served = self.simulator.rdata(zone, name, rtype)
        return sorted({canonical_rdata(rtype, text) for text in served})

    def stop(self) -> None:
        self.proxy.stop()
        self.simulator.stop()


def start(workdir: pathlib.Path) -> NetcupHarness:
    return NetcupHarness()
