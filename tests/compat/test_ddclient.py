"""Debian's ddclient (protocol dyndns2) against a real ``dnsgate serve``.

ddclient runs once in the foreground (no daemon, its own config and cache
files) and sets A records in a built-in zone (seen by dig on dnsgate's
embedded DNS server and by the REST API) and in a PowerDNS zone (seen by dig
on pdns_server). A token for another host gets ``nohost`` and changes
nothing; a failing provider gets ``dnserr``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.compat.conftest import (
    DYNDNS_BUILTIN_ZONE,
    DYNDNS_FAULT_ZONE,
    DYNDNS_PDNS_ZONE,
    DyndnsStack,
    dyndns_dig,
)
from tests.dns.tools import require_tool

TIMEOUT = 60


def ddclient(stack: DyndnsStack, workdir: Path, hosts: list[str], password: str,
             use: str = "use=ip, ip=192.0.2.50", *, ok: bool = True) -> str:
    """Run ddclient once for ``hosts`` (a fresh cache: it always asks); its output.
    It exits 1 when an update failed."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "ddclient.conf"
    conf.write_text("\n".join([
        "daemon=0",
        "syslog=no",
        "ssl=no",
        "protocol=dyndns2",
        f"server=127.0.0.1:{stack.http_port}",
        use,
        "login=router",
        f"password='{password}'",
        ",".join(hosts),
        "",
    ]))
    conf.chmod(0o600)
    cache = workdir / "ddclient.cache"
    result = subprocess.run(
        [require_tool("ddclient"), "-foreground", "-file", str(conf), "-cache", str(cache),
         "-daemon=0", "-noquiet", "-verbose"],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=workdir)
    output = result.stdout + result.stderr
    assert result.returncode == (0 if ok else 1), output
    return output


def test_ddclient_sets_a_builtin_host(dyndns_stack: DyndnsStack, tmp_path: Path) -> None:
    stack = dyndns_stack
    host = stack.host(DYNDNS_BUILTIN_ZONE, "router")
    token = stack.host_token(DYNDNS_BUILTIN_ZONE, host)

    out = ddclient(stack, tmp_path / "first", [host], token, "use=ip, ip=192.0.2.50")
    assert "SUCCESS" in out and "192.0.2.50" in out, out
    assert "FAILED" not in out, out
    assert dyndns_dig(stack.dns_port, host) == {"192.0.2.50"}
    assert stack.api_records(DYNDNS_BUILTIN_ZONE, host, "A") == {"192.0.2.50"}

    # The same address again (a fresh cache, so ddclient asks): nochg, which
    # ddclient takes as success.
    again = ddclient(stack, tmp_path / "again", [host], token, "use=ip, ip=192.0.2.50")
    assert "nochg" in again and "FAILED" not in again, again

    moved = ddclient(stack, tmp_path / "moved", [host], token, "usev4=ipv4, ipv4=192.0.2.51")
    assert "SUCCESS" in moved and "FAILED" not in moved, moved
    assert dyndns_dig(stack.dns_port, host) == {"192.0.2.51"}
    assert stack.api_records(DYNDNS_BUILTIN_ZONE, host, "A") == {"192.0.2.51"}


def test_ddclient_sets_several_hosts_in_one_request(dyndns_stack: DyndnsStack,
                                                    tmp_path: Path) -> None:
    stack = dyndns_stack
    site = stack.host(DYNDNS_BUILTIN_ZONE, "site")
    token = stack.host_token(DYNDNS_BUILTIN_ZONE, site, kind="below")
    hosts = [f"a.{site}", f"b.{site}", f"c.{site}"]
    out = ddclient(stack, tmp_path, hosts, token, "use=ip, ip=198.51.100.7")
    assert out.count("SUCCESS") >= 3 and "FAILED" not in out, out
    for host in hosts:
        assert dyndns_dig(stack.dns_port, host) == {"198.51.100.7"}


def test_ddclient_learns_its_address_from_checkip(dyndns_stack: DyndnsStack,
                                                 tmp_path: Path) -> None:
    stack = dyndns_stack
    host = stack.host(DYNDNS_BUILTIN_ZONE, "web")
    token = stack.host_token(DYNDNS_BUILTIN_ZONE, host)
    use = (f"use=web, web=http://127.0.0.1:{stack.http_port}/nic/checkip.html, "
           "web-skip='Current IP Address:'")
    out = ddclient(stack, tmp_path, [host], token, use)
    assert "SUCCESS" in out and "FAILED" not in out, out
    assert dyndns_dig(stack.dns_port, host) == {"127.0.0.1"}


def test_ddclient_sets_a_powerdns_host(dyndns_stack: DyndnsStack, tmp_path: Path) -> None:
    stack = dyndns_stack
    host = stack.host(DYNDNS_PDNS_ZONE, "router")
    token = stack.host_token(DYNDNS_PDNS_ZONE, host)
    out = ddclient(stack, tmp_path / "first", [host], token, "use=ip, ip=203.0.113.5")
    assert "SUCCESS" in out and "FAILED" not in out, out
    assert dyndns_dig(stack.pdns.dns_port, host) == {"203.0.113.5"}
    assert stack.api_records(DYNDNS_PDNS_ZONE, host, "A") == {"203.0.113.5"}

    moved = ddclient(stack, tmp_path / "moved", [host], token, "use=ip, ip=203.0.113.6")
    assert "SUCCESS" in moved, moved
    assert dyndns_dig(stack.pdns.dns_port, host) == {"203.0.113.6"}


def test_ddclient_with_a_token_for_another_host_changes_nothing(
        dyndns_stack: DyndnsStack, tmp_path: Path) -> None:
    stack = dyndns_stack
    for zone, dns_port in ((DYNDNS_BUILTIN_ZONE, stack.dns_port),
                           (DYNDNS_PDNS_ZONE, stack.pdns.dns_port)):
        victim = stack.host(zone, "victim")
        victim_token = stack.host_token(zone, victim)
        ddclient(stack, tmp_path / zone / "victim", [victim], victim_token,
                 "use=ip, ip=192.0.2.80")
        assert dyndns_dig(dns_port, victim) == {"192.0.2.80"}

        intruder = stack.host(zone, "intruder")
        intruder_token = stack.host_token(zone, intruder)
        out = ddclient(stack, tmp_path / zone / "intruder", [victim], intruder_token,
                       "use=ip, ip=192.0.2.66", ok=False)
        assert "FAILED" in out and "nohost" in out, out
        assert "SUCCESS" not in out, out
        assert dyndns_dig(dns_port, victim) == {"192.0.2.80"}
        assert stack.api_records(zone, victim, "A") == {"192.0.2.80"}


def test_ddclient_sees_dnserr_when_the_provider_fails(dyndns_stack: DyndnsStack,
                                                     tmp_path: Path) -> None:
    stack = dyndns_stack
    host = stack.host(DYNDNS_FAULT_ZONE, "router")
    token = stack.host_token(DYNDNS_FAULT_ZONE, host)
    with stack.proxy.fault("error"):
        out = ddclient(stack, tmp_path, [host], token, "use=ip, ip=192.0.2.90", ok=False)
    assert "FAILED" in out and "dnserr" in out, out
    assert dyndns_dig(stack.pdns.dns_port, host) == set()
