"""A real BIND 9 (Debian's bind9 package) as secondary of a built-in zone.

dnsgate runs as a real ``dnsgate serve`` process with its DNS server on a
free port; its secondaries are set with the CLI (``dnsgate zone set``) while
it runs. BIND transfers the zone, gets a NOTIFY when a record changes through
the REST API, asks for IXFR and gets the differences from the change journal,
and answers the new record with the new serial within 2 s.
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone
import httpx
import pytest

from dnsgate.services import records
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT
from dnsgate.services.records import ChangeInput
from tests.conftest import TEST_SECRET_KEY
from tests.dns.tools import free_dns_port, require_tool
from tests.support.factories import bearer
from tests.support.server import DNSGATE, cli_env, running, stop

ZONE = "example.test"
NOTIFY_DEADLINE = 2.0
KEY_NAME = "bind-xfr"
KEY_SECRET = base64.b64encode(b"bind9 shares this secret 32 byte").decode()

NAMED_CONF = """
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ any; }};
    allow-transfer {{ none; }};
}};
controls {{ }};
{key}
zone "{zone}" {{
    type secondary;
    file "{dir}/{zone}.db";
    primaries {{ 127.0.0.1 port {primary} {primary_key}; }};
}};
"""


def ask(port: int, name: str, rtype: str, timeout: float = 1.0) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rtype), "127.0.0.1", port=port,
                         timeout=timeout)


def serial_of(port: int) -> int | None:
    try:
        response = ask(port, ZONE, "SOA")
    except (dns.exception.Timeout, OSError):
        return None
    if response.rcode() != dns.rcode.NOERROR or not response.answer:
        return None
    return int(response.answer[0][0].serial)


def a_records(port: int, name: str) -> set[str]:
    response = ask(port, name, "A")
    return {rd.to_text() for rrset in response.answer for rd in rrset}


def wait_until(check, deadline: float, what: str, log: Path | None = None) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > deadline:
            detail = f"\n--- named log ---\n{log.read_text()[-4000:]}" if log else ""
            raise AssertionError(f"{what}: not within {deadline} s{detail}")
        time.sleep(0.02)
    return time.monotonic() - start


@contextmanager
def named(tmp: Path, port: int, primary: int, tsig: bool) -> Iterator[Path]:
    """BIND 9 in the foreground as a secondary of ``ZONE``; yields its log file
    (debug level 3: it says whether a transfer was incremental)."""
    exe = require_tool("named")
    tmp.mkdir()
    key = (f'key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{KEY_SECRET}"; }};'
           if tsig else "")
    conf = tmp / "named.conf"
    conf.write_text(NAMED_CONF.format(
        dir=tmp, port=port, zone=ZONE, primary=primary, key=key,
        primary_key=f"key {KEY_NAME}" if tsig else ""))
    checked = subprocess.run([require_tool("named-checkconf"), str(conf)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = tmp / "named.log"
    with log.open("w") as out:
        process = subprocess.Popen([exe, "-g", "-d", "3", "-n", "1", "-c", str(conf)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        stop(process)


def dnsgate_cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([*DNSGATE, *args], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def transfer_allowed(port: int, keyring: dict | None) -> bool:
    zone = dns.zone.Zone(ZONE, relativize=False)
    query, _ = dns.xfr.make_query(zone, keyring=keyring,
                                  keyname=KEY_NAME if keyring else None)
    try:
        dns.query.inbound_xfr("127.0.0.1", zone, query, port=port, timeout=2, lifetime=5)
    except (dns.xfr.TransferError, dns.tsig.PeerError):  # refused, or key not known yet
        return False
    return True


@pytest.mark.parametrize("tsig", [False, True], ids=["by-address", "by-tsig-key"])
async def test_bind_follows_a_builtin_zone(tsig, env, world, settings, tmp_path):
    await world.zone(ZONE)
    await records.apply_changes(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=ZONE, inputs=[
        ChangeInput("upsert", f"www.{ZONE}", "A", 300, ["192.0.2.10"]),
        ChangeInput("upsert", f"home.{ZONE}", "A", 60, ["192.0.2.7"])])
    alice = world.account("alice")
    token = world.token(world.realm(alice, ZONE, "home", types=["A"])).secret
    dns_port, named_port = free_dns_port(), free_dns_port()
    process_env = cli_env(settings.data_dir, settings.database_url,
                          DNSGATE_DNS_PORT=str(dns_port), DNSGATE_SECRET_KEY=TEST_SECRET_KEY)
    keyring = dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", KEY_SECRET)})

    with running("serve", process_env) as server:
        assert a_records(dns_port, f"www.{ZONE}") == {"192.0.2.10"}
        assert not transfer_allowed(dns_port, None)
        acl = (["--tsig", f"{KEY_NAME}:hmac-sha256:{KEY_SECRET}"] if tsig
               else ["--allow-transfer", "127.0.0.1"])
        dnsgate_cli(process_env, "zone", "set", ZONE, "--notify",
                    f"127.0.0.1:{named_port}", *acl)
        # The running server picks the settings up by polling.
        wait_until(lambda: transfer_allowed(dns_port, keyring if tsig else None), 3,
                   "dnsgate applying the transfer ACL")
        if tsig:
            assert not transfer_allowed(dns_port, None)  # only the key opens it

        with named(tmp_path / "named", named_port, dns_port, tsig) as log:
            first_serial = serial_of(dns_port)
            assert first_serial is not None
            wait_until(lambda: serial_of(named_port) == first_serial, 15,
                       "BIND transferring the zone", log)
            response = ask(named_port, f"www.{ZONE}", "A")
            assert response.flags & dns.flags.AA
            assert {rd.to_text() for rd in response.answer[0]} == {"192.0.2.10"}
            assert a_records(named_port, f"home.{ZONE}") == {"192.0.2.7"}

            for address in ("198.51.100.23", "198.51.100.24"):
                async with httpx.AsyncClient(base_url=server.base) as client:
                    put = await client.put(f"/api/v1/zones/{ZONE}/rrsets/home.{ZONE}/A",
                                           json={"ttl": 60, "records": [address]},
                                           headers=bearer(token))
                assert put.status_code == 200, put.text
                new_serial = serial_of(dns_port)
                assert new_serial is not None and new_serial > first_serial
                took = wait_until(
                    lambda a=address, s=new_serial: serial_of(named_port) == s
                    and a_records(named_port, f"home.{ZONE}") == {a},
                    NOTIFY_DEADLINE, "BIND answering the change (NOTIFY + transfer)", log)
                print(f"BIND had serial {new_serial} after {took:.2f} s")
                first_serial = new_serial
            text = log.read_text()
            assert "notify from 127.0.0.1" in text, text[-3000:]
            assert "Transfer completed" in text, text[-3000:]
            # After its first full transfer BIND asks for IXFR, and the journal
            # answers it with the differences alone (named -d 3 logs which).
            assert "requesting IXFR" in text and "got incremental response" in text, \
                text[-3000:]
