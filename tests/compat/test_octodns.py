"""octoDNS (with octodns-powerdns) syncs a zone config into a realm through
dnsgate's PowerDNS API.

octodns-powerdns builds ``scheme://host:port/api/v1/servers/...`` itself (no
base path), so it talks to the facade's root mount. The token sees only its
realm, so octoDNS manages exactly that part of the zone; a config with a
record outside the realm fails as a whole and applies nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dns.tools import require_tool
from tests.support.acme import (
    CLIENT_TIMEOUT,
    ZONE,
    AcmeStack,
    acme_stack,
    unique_label,
)
from tests.support.databases import stack_database

OCTODNS_SYNC = Path(sys.executable).with_name("octodns-sync")


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, database_backend: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[AcmeStack]:
    workdir = tmp_path_factory.mktemp("octodns-stack")
    with stack_database(request, database_backend, workdir) as url, \
            acme_stack(url, workdir) as running:
        yield running


def _sync(stack: AcmeStack, token: str, zone_yaml: str) -> tuple[int, str]:
    """``octodns-sync --doit`` of ``zone_yaml`` (records of ``ZONE``) into dnsgate."""
    assert OCTODNS_SYNC.exists(), "octodns is required in the virtualenv"
    work = stack.client_dir("octodns")
    (work / "zones").mkdir()
    (work / "zones" / f"{ZONE}.yaml").write_text(zone_yaml)
    port = stack.base.rsplit(":", 1)[1]
    (work / "config.yaml").write_text(f"""\
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: {work / "zones"}
    default_ttl: 300
    enforce_order: false
    escaped_semicolons: true
  dnsgate:
    class: octodns_powerdns.PowerDnsProvider
    host: 127.0.0.1
    port: {port}
    scheme: http
    api_key: env/DNSGATE_TOKEN
    timeout: 10
zones:
  {ZONE}.:
    sources:
      - config
    targets:
      - dnsgate
""")
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(DNSGATE_TOKEN=token, NO_PROXY="*")
    result = subprocess.run([str(OCTODNS_SYNC), "--config-file", str(work / "config.yaml"),
                             "--doit"], capture_output=True, text=True, env=env, cwd=work,
                            timeout=CLIENT_TIMEOUT)
    return result.returncode, result.stdout + result.stderr


def _dig(stack: AcmeStack, name: str, rtype: str) -> set[str]:
    result = subprocess.run(
        [require_tool("dig"), "@127.0.0.1", "-p", str(stack.dns_port), "+short", "+time=3",
         "+tries=2", "+norecurse", name, rtype], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def _realm_token(stack: AcmeStack) -> tuple[str, str]:
    """(label of a new subtree realm, a token of it)."""
    label = unique_label("lab")
    _, realm = stack.account_with_realm(f"{label}.{ZONE}", kind="subtree",
                                        types=("A", "AAAA", "TXT", "CNAME", "MX"))
    return label, stack.world.token(realm).secret


def test_sync_applies_the_realms_records(stack: AcmeStack) -> None:
    label, token = _realm_token(stack)
    code, output = _sync(stack, token, f"""\
{label}:
  - type: A
    values: [192.0.2.1, 192.0.2.2]
  - type: TXT
    value: hello octodns
www.{label}:
  type: CNAME
  value: {label}.{ZONE}.
mail.{label}:
  type: MX
  value:
    preference: 10
    exchange: mx.{label}.{ZONE}.
""")
    assert code == 0, output
    assert _dig(stack, f"{label}.{ZONE}", "A") == {"192.0.2.1", "192.0.2.2"}
    assert _dig(stack, f"{label}.{ZONE}", "TXT") == {'"hello octodns"'}
    assert _dig(stack, f"www.{label}.{ZONE}", "CNAME") == {f"{label}.{ZONE}."}
    assert _dig(stack, f"mail.{label}.{ZONE}", "MX") == {f"10 mx.{label}.{ZONE}."}

    # a second sync: one value changed, one record gone, one added
    code, output = _sync(stack, token, f"""\
{label}:
  - type: A
    value: 192.0.2.3
  - type: TXT
    value: hello octodns
api.{label}:
  type: AAAA
  value: 2001:db8::5
""")
    assert code == 0, output
    assert _dig(stack, f"{label}.{ZONE}", "A") == {"192.0.2.3"}
    assert _dig(stack, f"www.{label}.{ZONE}", "CNAME") == set()
    assert _dig(stack, f"mail.{label}.{ZONE}", "MX") == set()
    assert _dig(stack, f"api.{label}.{ZONE}", "AAAA") == {"2001:db8::5"}
    assert stack.records(f"api.{label}.{ZONE}", "AAAA") == {"2001:db8::5"}

    # nothing left to do: octoDNS sees only the realm, and it matches
    code, output = _sync(stack, token, f"""\
{label}:
  - type: A
    value: 192.0.2.3
  - type: TXT
    value: hello octodns
api.{label}:
  type: AAAA
  value: 2001:db8::5
""")
    assert code == 0, output
    assert "No changes were planned" in output, output


def test_a_record_outside_the_realm_fails_the_sync_and_applies_nothing(
        stack: AcmeStack) -> None:
    label, token = _realm_token(stack)
    other = unique_label("other")
    code, output = _sync(stack, token, f"""\
{label}:
  type: A
  value: 192.0.2.10
{other}:
  type: A
  value: 192.0.2.66
""")
    assert code != 0, output
    assert "403" in output, output
    assert _dig(stack, f"{label}.{ZONE}", "A") == set()
    assert _dig(stack, f"{other}.{ZONE}", "A") == set()
    assert stack.records(f"{label}.{ZONE}", "A") == set()


def test_a_bad_key_fails_cleanly(stack: AcmeStack) -> None:
    label, _ = _realm_token(stack)
    code, output = _sync(stack, "dg_aaaaaaaaaaaaaaaa_" + "a" * 52, f"""\
{label}:
  type: A
  value: 192.0.2.10
""")
    assert code != 0, output
    assert "unauthorized" in output.lower(), output
    assert stack.records(f"{label}.{ZONE}", "A") == set()
