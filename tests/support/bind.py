"""A real BIND 9 (Debian's bind9 package) as a dynamic primary, in a work
directory on a free loopback port.

named runs in the foreground (``-g``) without rndc controls. One TSIG key
(hmac-sha256) may update and transfer every zone; unsigned updates and
transfers are refused. Zones come from a pool declared in named.conf and are
handed out one by one by :meth:`Bind.new_zone`; when the pool runs dry it is
grown by rewriting named.conf and sending SIGHUP (what ``rndc reload`` does),
so no control channel is needed.

``check-integrity`` is off: by default BIND refuses an UPDATE that adds an
MX or SRV whose target inside the zone has no address record.

Each zone holds only its SOA and one NS record whose target lies outside the
zone (no glue needed). Its update policy grants the key the whole zone except
the name ``locked.<zone>``, so a test can make BIND refuse a whole UPDATE.
"""

from __future__ import annotations

import base64
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

from tests.dns.tools import free_dns_port, require_tool
from tests.support.server import stop

START_TIMEOUT = 30.0
POOL_STEP = 32
#: The label below each zone the key may not update (see the module docstring).
LOCKED_LABEL = "locked"
NAMESERVER = "ns.bind.test"

NAMED_CONF = """\
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
    allow-transfer {{ key "{key}"; }};
    // BIND refuses an UPDATE whose in-zone MX/SRV target has no address
    // record; the contract writes such targets on purpose.
    check-integrity no;
}};
controls {{ }};
key "{key}" {{ algorithm hmac-sha256; secret "{secret}"; }};
"""

ZONE_CONF = """\
zone "{zone}" {{
    type primary;
    file "{dir}/zones/{zone}.db";
    update-policy {{
        deny "{key}" name "{locked}.{zone}" ANY;
        grant "{key}" zonesub ANY;
    }};
}};
"""

ZONE_FILE = """\
$TTL 300
@ IN SOA {ns}. hostmaster.{zone}. 1 3600 600 86400 300
@ IN NS {ns}.
"""


@dataclass
class Bind:
    """A running named: where it listens, its TSIG key, and its zones."""

    workdir: Path
    port: int
    key_name: str
    key_secret: str
    process: subprocess.Popen[bytes]
    tag: str
    pool: list[str] = field(default_factory=list)
    handed_out: list[str] = field(default_factory=list)

    algorithm = "hmac-sha256"

    @property
    def log_path(self) -> Path:
        return self.workdir / "named.log"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def new_zone(self) -> str:
        """A fresh zone (SOA and NS only), never handed out before."""
        if len(self.handed_out) == len(self.pool):
            self._grow()
        zone = self.pool[len(self.handed_out)]
        self.handed_out.append(zone)
        return zone

    def query(self, name: str, rtype: str, timeout: float = 2.0) -> dns.message.Message:
        """A plain (unsigned) query over TCP, as any resolver would ask."""
        return dns.query.tcp(dns.message.make_query(name, rtype), "127.0.0.1",
                             port=self.port, timeout=timeout)

    def serial(self, zone: str) -> int:
        response = self.query(zone, "SOA")
        assert response.rcode() == dns.rcode.NOERROR and response.answer, response
        return int(response.answer[0][0].serial)

    def stop(self) -> None:
        stop(self.process)

    def _write_conf(self) -> None:
        d = self.workdir
        (d / "zones").mkdir(exist_ok=True)
        parts = [NAMED_CONF.format(dir=d, port=self.port, key=self.key_name,
                                   secret=self.key_secret)]
        for zone in self.pool:
            zone_file = d / "zones" / f"{zone}.db"
            if not zone_file.exists():
                zone_file.write_text(ZONE_FILE.format(zone=zone, ns=NAMESERVER))
            parts.append(ZONE_CONF.format(zone=zone, dir=d, key=self.key_name,
                                          locked=LOCKED_LABEL))
        conf = d / "named.conf"
        conf.write_text("".join(parts))
        checked = subprocess.run([require_tool("named-checkconf"), str(conf)],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stdout + checked.stderr

    def _add_to_pool(self) -> None:
        start = len(self.pool)
        self.pool.extend(f"z{n}-{self.tag}.bind.test" for n in range(start, start + POOL_STEP))

    def _grow(self) -> None:
        self._add_to_pool()
        self._write_conf()
        self.process.send_signal(signal.SIGHUP)
        self._wait_serving(self.pool[-1])

    def _wait_serving(self, zone: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"named exited:\n{self.log_tail()}")
            try:
                response = self.query(zone, "SOA", timeout=0.5)
            except (dns.exception.DNSException, OSError):
                response = None
            if (response is not None and response.rcode() == dns.rcode.NOERROR
                    and response.flags & dns.flags.AA and response.answer):
                return
            time.sleep(0.05)
        raise AssertionError(f"named did not serve {zone} within {START_TIMEOUT} s:\n"
                             f"{self.log_tail()}")


def start_bind(workdir: Path) -> Bind:
    """Start named in ``workdir`` (created if missing) and wait until it serves."""
    exe = require_tool("named")
    workdir.mkdir(parents=True, exist_ok=True)
    bind = Bind(workdir=workdir, port=free_dns_port(), key_name="dnsgate-test",
                key_secret=base64.b64encode(secrets.token_bytes(32)).decode(),
                process=None,  # type: ignore[arg-type]  # set just below
                tag=secrets.token_hex(3))
    bind._add_to_pool()
    bind._write_conf()
    with bind.log_path.open("wb") as out:
        bind.process = subprocess.Popen(
            [exe, "-g", "-n", "1", "-c", str(workdir / "named.conf")],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        bind._wait_serving(bind.pool[-1])
    except BaseException:
        bind.stop()
        raise
    return bind
