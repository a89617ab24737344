"""Contract harness for the lexicon bridge: lexicon's ``powerdns`` provider
against its own pdns_server (gsqlite3), with a FaultProxy for faults.

Lexicon cannot list zones, so the contract's ``zones()`` check does not
apply (the adapter declares ``list_zones=False``). ``check()`` needs a zone
to authenticate against: the harness creates one for ``check_domain``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.backends.providers.powerdns import PowerDNSHarness


class LexiconPowerDNSHarness(PowerDNSHarness):
    """The PowerDNS harness, reached through lexicon's ``powerdns`` provider."""

    provider = "lexicon"
    tag_prefix = "lx"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.check_zone = self.new_zone()

    def _config(self, url: str, key: str) -> dict[str, Any]:
        return {"provider_name": "powerdns",
                "credentials": {"pdns_server": url, "auth_token": key},
                "check_domain": self.check_zone}


def start(workdir: Path) -> LexiconPowerDNSHarness:
    return LexiconPowerDNSHarness(workdir)
