"""A real PowerDNS Authoritative server (Debian ``pdns-server`` with the
gsqlite3 backend) in a work directory, on free loopback ports.

Only the gsqlite3 backend is launched; the HTTP API and the DNS port listen on
127.0.0.1, the API answers only loopback clients, and caches are off so a
lookup right after an API change sees it.
"""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.dns.tools import free_dns_port, require_tool
from tests.support.server import free_port, stop

PDNS_SERVER = "pdns_server"
#: Where Debian's pdns-backend-sqlite3 puts the schema (first one found wins).
SCHEMA_PATHS = (
    Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
    Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"),
)
START_TIMEOUT = 20.0


def schema_sql() -> str:
    for path in SCHEMA_PATHS:
        if path.exists():
            return path.read_text()
    raise AssertionError("the gsqlite3 schema is missing: apt-get install pdns-backend-sqlite3")


def version() -> tuple[int, ...]:
    """The installed pdns_server version, e.g. (4, 7, 3)."""
    exe = require_tool(PDNS_SERVER)
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    text = out.stdout + out.stderr
    for word in text.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(part.isdigit() for part in parts):
            return tuple(int(part) for part in parts)
    raise AssertionError(f"cannot read the PowerDNS version from {text!r}")


@dataclass
class PowerDNS:
    """A running pdns_server: its API (URL, key) and its DNS port."""

    workdir: Path
    api_port: int
    dns_port: int
    api_key: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def api(self, method: str, path: str, json: Any = None,
            params: dict[str, str] | None = None) -> httpx.Response:
        """One call to the API (path below /api/v1/servers/localhost)."""
        return httpx.request(method, f"{self.api_url}/api/v1/servers/localhost{path}",
                             json=json, params=params, headers={"X-API-Key": self.api_key},
                             timeout=10, trust_env=False)

    def create_zone(self, zone: str, ttl: int = 3600) -> None:
        """A Native zone with an SOA and one NS record (``zone`` without trailing dot)."""
        fqdn = f"{zone}."
        response = self.api("POST", "/zones", json={
            "name": fqdn, "kind": "Native", "nameservers": [f"ns1.{fqdn}"],
            "rrsets": [{
                "name": fqdn, "type": "SOA", "ttl": ttl, "changetype": "REPLACE",
                "records": [{"content": f"ns1.{fqdn} hostmaster.{fqdn} 1 10800 3600 604800 300",
                             "disabled": False}],
            }],
        })
        assert response.status_code == 201, response.text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop(self.process)


def start(workdir: Path) -> PowerDNS:
    """Start pdns_server in ``workdir`` and wait until its API answers."""
    exe = require_tool(PDNS_SERVER)
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "pdns.sqlite3"
    with sqlite3.connect(database) as db:
        db.executescript(schema_sql())
    db.close()
    (workdir / "pdns.conf").write_text("# all settings are on the command line\n")
    api_key = secrets.token_urlsafe(24)
    api_port = free_port()
    dns_port = free_dns_port()
    log_path = workdir / "pdns.log"
    args = [
        exe,
        f"--config-dir={workdir}", f"--socket-dir={workdir}",
        "--launch=gsqlite3", f"--gsqlite3-database={database}",
        "--local-address=127.0.0.1", f"--local-port={dns_port}",
        "--webserver=yes", "--api=yes", f"--api-key={api_key}",
        "--webserver-address=127.0.0.1", f"--webserver-port={api_port}",
        "--webserver-allow-from=127.0.0.0/8",
        "--guardian=no", "--daemon=no", "--disable-syslog", "--write-pid=no",
        # Answers must follow API changes at once.
        "--cache-ttl=0", "--query-cache-ttl=0", "--negquery-cache-ttl=0",
        "--zone-cache-refresh-interval=0",
        # No security-status poll: it would query secpoll.powerdns.com.
        "--security-poll-suffix=",
        "--loglevel=4",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    server = PowerDNS(workdir, api_port, dns_port, api_key, process, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"pdns_server exited early:\n{server.log()}")
        try:
            if server.api("GET", "").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"pdns_server API did not answer:\n{server.log()}")
