"""Debian's inadyn with a ``custom`` provider against a real ``dnsgate serve``.

inadyn runs once in the foreground (``--once``, its own config and cache
dir, no syslog, no PID file) and sets the A record of a built-in host (seen
by dig on dnsgate's DNS server and by the REST API) and of a PowerDNS host;
a token for another host changes nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.compat.conftest import (
    DYNDNS_BUILTIN_ZONE,
    DYNDNS_PDNS_ZONE,
    DyndnsStack,
    dyndns_dig,
)
from tests.dns.tools import require_tool

TIMEOUT = 60


def inadyn(stack: DyndnsStack, workdir: Path, host: str, password: str, *,
           checkip: str = 'checkip-command = "/bin/echo 192.0.2.20"',
           global_options: str = "") -> subprocess.CompletedProcess[str]:
    """Run inadyn once for ``host`` with a fresh cache (so it always updates)."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "inadyn.conf"
    conf.write_text(f"""
{global_options}
custom dnsgate {{
    username    = "router"
    password    = "{password}"
    ddns-server = "127.0.0.1:{stack.http_port}"
    ddns-path   = "/nic/update?hostname=%h&myip=%i"
    ssl         = false
    {checkip}
    hostname    = "{host}"
}}
""")
    conf.chmod(0o600)
    return subprocess.run(
        [require_tool("inadyn"), "--once", "--foreground", "--no-pidfile", "-l", "debug",
         "-f", str(conf), f"--cache-dir={workdir / 'cache'}"],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=workdir)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_inadyn_sets_a_builtin_host(dyndns_stack: DyndnsStack, tmp_path: Path) -> None:
    stack = dyndns_stack
    host = stack.host(DYNDNS_BUILTIN_ZONE, "inadyn")
    token = stack.host_token(DYNDNS_BUILTIN_ZONE, host)
    result = inadyn(stack, tmp_path / "first", host, token)
    assert result.returncode == 0, output(result)
    assert "good 192.0.2.20" in output(result), output(result)
    assert dyndns_dig(stack.dns_port, host) == {"192.0.2.20"}
    assert stack.api_records(DYNDNS_BUILTIN_ZONE, host, "A") == {"192.0.2.20"}

    moved = inadyn(stack, tmp_path / "moved", host, token,
                   checkip='checkip-command = "/bin/echo 198.51.100.20"')
    assert moved.returncode == 0, output(moved)
    assert dyndns_dig(stack.dns_port, host) == {"198.51.100.20"}


def test_inadyn_sets_a_powerdns_host(dyndns_stack: DyndnsStack, tmp_path: Path) -> None:
    stack = dyndns_stack
    host = stack.host(DYNDNS_PDNS_ZONE, "inadyn")
    token = stack.host_token(DYNDNS_PDNS_ZONE, host)
    result = inadyn(stack, tmp_path, host, token)
    assert result.returncode == 0, output(result)
    assert dyndns_dig(stack.pdns.dns_port, host) == {"192.0.2.20"}
    assert stack.api_records(DYNDNS_PDNS_ZONE, host, "A") == {"192.0.2.20"}


def test_inadyn_learns_its_address_from_checkip(dyndns_stack: DyndnsStack,
                                                tmp_path: Path) -> None:
    stack = dyndns_stack
    host = stack.host(DYNDNS_BUILTIN_ZONE, "inadynweb")
    token = stack.host_token(DYNDNS_BUILTIN_ZONE, host)
    checkip = (f'checkip-server = "127.0.0.1:{stack.http_port}"\n'
               '    checkip-path = "/nic/checkip.html"\n'
               "    checkip-ssl = false")
    # The checkip answer here is 127.0.0.1, which inadyn refuses unless told not to check.
    result = inadyn(stack, tmp_path, host, token, checkip=checkip,
                    global_options="verify-address = false")
    assert result.returncode == 0, output(result)
    assert dyndns_dig(stack.dns_port, host) == {"127.0.0.1"}


def test_inadyn_with_a_token_for_another_host_changes_nothing(
        dyndns_stack: DyndnsStack, tmp_path: Path) -> None:
    stack = dyndns_stack
    victim = stack.host(DYNDNS_BUILTIN_ZONE, "victim")
    first = inadyn(stack, tmp_path / "victim", victim,
                   stack.host_token(DYNDNS_BUILTIN_ZONE, victim))
    assert first.returncode == 0, output(first)
    assert dyndns_dig(stack.dns_port, victim) == {"192.0.2.20"}

    intruder = stack.host(DYNDNS_BUILTIN_ZONE, "intruder")
    refused = inadyn(stack, tmp_path / "intruder", victim,
                     stack.host_token(DYNDNS_BUILTIN_ZONE, intruder),
                     checkip='checkip-command = "/bin/echo 192.0.2.66"')
    assert "nohost" in output(refused), output(refused)
    assert refused.returncode != 0, output(refused)
    assert dyndns_dig(stack.dns_port, victim) == {"192.0.2.20"}
    assert stack.api_records(DYNDNS_BUILTIN_ZONE, victim, "A") == {"192.0.2.20"}
    assert stack.api_records(DYNDNS_BUILTIN_ZONE, intruder, "A") == set()
