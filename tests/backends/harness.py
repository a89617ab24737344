"""What the backend contract suite needs from each provider's test set-up.

Every module in ``tests/backends/providers/`` (one per provider) defines

    def start(workdir: pathlib.Path) -> ProviderHarness

which starts the provider's real server (or its simulator) on free loopback
ports. The suite calls it once per pytest worker and ``stop()``s it at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal, Protocol

Fault = Literal["down", "slow", "error", "garbage"]

#: Seconds a faulty config allows per upstream call, so "slow" times out fast.
FAULT_TIMEOUT = 1.0


class ProviderHarness(Protocol):
    #: The provider name the adapter registers (``PROVIDER.name``).
    provider: str

    def config(self) -> dict[str, Any]:
        """A working provider configuration (JSON-able, as an admin would save it)."""
        ...

    def bad_credentials(self) -> dict[str, Any]:
        """A configuration that reaches the upstream with wrong credentials."""
        ...

    def new_zone(self) -> str:
        """Create a fresh zone upstream (SOA and NS only) and return its name.

        Names are unique per call, e.g. ``z7-gw3.example``, so tests never share one.
        """
        ...

    def fault(self, mode: Fault) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Within the block, the returned configuration reaches the same upstream
        data through a path that fails in ``mode``: ``down`` (connection refused or
        reset), ``slow`` (no answer; the config's ``timeout`` is FAULT_TIMEOUT),
        ``error`` (HTTP 500, or SERVFAIL for DNS), ``garbage`` (an unparseable
        answer). ``config()`` keeps working meanwhile."""
        ...

    def lookup(self, zone: str, name: str, rtype: str) -> list[str]:
        """The records the upstream itself holds for (name, rtype), read without
        dnsgate (dig against the server, or the simulator's own state), in
        dnspython's canonical presentation form, sorted."""
        ...

    def stop(self) -> None: ...


@contextlib.contextmanager
def no_fault(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """For harnesses whose faults are only a changed config."""
    yield config
