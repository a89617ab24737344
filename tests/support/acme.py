"""Helpers of the ACME facade tests (acme-dns, lego httpreq, PowerDNS API).

In-process helpers:
- ``basic(user, password)``: an ``Authorization: Basic`` header.
- ``FailingBackend``: a provider that fails every call (502/504 paths).
- ``limited_app(settings, env, limit)``: the app with a tiny write rate limit.

Real processes, all on loopback:
- ``Pebble`` / ``start_pebble(workdir, dns_port)``: Debian's ``pebble`` ACME
  test CA with a CA and server certificate made here, resolving every
  challenge through ``127.0.0.1:<dns_port>`` (dnsgate's embedded DNS server);
  ``PEBBLE_VA_NOSLEEP=1`` and ``PEBBLE_WFE_NONCEREJECT=0`` keep it fast and
  deterministic.
- ``AcmeStack`` / ``acme_stack(...)``: a migrated database of the selected
  backend, a real ``dnsgate serve`` with its embedded DNS server on it, the
  built-in zone ``ZONE``, an admin API key, and pebble. Tests create
  accounts, realms and tokens in-process on the same database
  (``stack.world``) and talk to the server over HTTP.
- ``run_lego(...)``: Debian's ``lego`` against pebble, with a DNS provider.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import itertools
import json
import os
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dnsgate.backends.base import Capabilities, Health
from dnsgate.domain.errors import BackendTimeout, BackendUnavailable
from tests.conftest import TEST_SECRET_KEY
from tests.dns.tools import free_dns_port, require_tool
from tests.support.factories import World, bearer
from tests.support.server import cli_env, free_port, running, stop

ZONE = "acme.test"
PEBBLE_START_TIMEOUT = 20.0
CLIENT_TIMEOUT = 120.0

_labels = itertools.count(1)


# --- in-process helpers ------------------------------------------------------

def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class FailingBackend:
    """A provider whose every call fails (as a timeout when ``timeout``)."""

    provider = "failing"
    capabilities = Capabilities(atomic_batches=True)

    def __init__(self, *, timeout: bool = False) -> None:
        self.timeout = timeout

    def _fail(self) -> BackendUnavailable:
        if self.timeout:
            return BackendTimeout("the provider timed out", detail="timeout")
        return BackendUnavailable("the provider failed", detail="connection refused")

    async def check(self) -> Health:
        return Health.now(False, "down")

    async def zones(self) -> list[str]:
        raise self._fail()

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[Any]:
        raise self._fail()

    async def apply(self, zone: str, changes: Sequence[Any]) -> None:
        raise self._fail()

    async def aclose(self) -> None:
        return None


def break_backends(monkeypatch: pytest.MonkeyPatch, env: Any, *, timeout: bool = False) -> None:
    """Make every zone's backend fail from now on."""
    failing = FailingBackend(timeout=timeout)
    monkeypatch.setattr(env.backends, "get", lambda backend_id: failing)


def limited_app(settings: Any, env: Any, limit: str = "1/minute") -> Any:
    """The app on the same database with a per-token write limit of ``limit``."""
    from dnsgate.app import create_app
    from dnsgate.throttling.ratelimit import RateLimiter

    limited = replace(env, limiter=RateLimiter({"token_write": limit}))
    return create_app(settings, env=limited, migrate_on_start=False)


async def client_of(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://dnsgate.test")


def unique_label(prefix: str = "h") -> str:
    """A label no other test of this process uses."""
    return f"{prefix}{next(_labels)}-{uuid.uuid4().hex[:6]}"


# --- pebble ------------------------------------------------------------------

@dataclass
class Pebble:
    directory: str
    ca_cert: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop(self.process)


def _pebble_exe() -> str:
    return require_tool("pebble")


def make_certificates(workdir: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it:
    (CA certificate, server certificate, server key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dnsgate test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True,
              crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = (workdir / "ca.pem", workdir / "cert.pem",
                                    workdir / "key.pem")
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return ca_path, cert_path, key_path


def start_pebble(workdir: Path, dns_port: int) -> Pebble:
    """Start pebble on free loopback ports; it resolves through ``dns_port``."""
    exe = _pebble_exe()
    workdir.mkdir(parents=True, exist_ok=True)
    ca, cert, key = make_certificates(workdir)
    port = free_port()
    config = workdir / "pebble-config.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{port}",
        "managementListenAddress": f"127.0.0.1:{free_port()}",
        "certificate": str(cert), "privateKey": str(key),
        # Ports pebble would validate HTTP-01/TLS-ALPN-01 on; only DNS-01 is used.
        "httpPort": free_port(), "tlsPort": free_port(),
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}
    env.update(PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    log_path = workdir / "pebble.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [exe, "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    pebble = Pebble(f"https://127.0.0.1:{port}/dir", ca, process, log_path)
    trust = ssl.create_default_context(cafile=str(ca))
    try:
        deadline = time.monotonic() + PEBBLE_START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"pebble exited early:\n{pebble.log()}")
            try:
                if httpx.get(pebble.directory, verify=trust, timeout=2,
                             trust_env=False).status_code == 200:
                    return pebble
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"pebble did not answer:\n{pebble.log()}")
    except BaseException:
        pebble.stop()
        raise


# --- a real dnsgate with DNS, and pebble -------------------------------------

@dataclass
class AcmeStack:
    """A running ``dnsgate serve`` (HTTP + DNS) and a pebble that resolves through it."""

    base: str
    dns_port: int
    pebble: Pebble
    world: World
    admin_key: str
    workdir: Path

    def host(self, prefix: str = "h") -> str:
        """A fresh name in ``ZONE``."""
        return f"{unique_label(prefix)}.{ZONE}"

    def account_with_realm(self, name: str, *, kind: str = "host",
                           types: Sequence[str] = ("A", "TXT")) -> tuple[int, int]:
        """(account id, realm id) of a new account holding ``name``."""
        account = self.world.account(unique_label("acct"))
        realm = self.world.realm(account, ZONE, name, kind=kind, types=list(types))
        return account, realm

    def records(self, name: str, rtype: str = "TXT") -> set[str]:
        """The RRset's records as the running server's REST API shows them."""
        response = httpx.get(f"{self.base}/api/v1/zones/{ZONE}/rrsets",
                             params={"name": name, "type": rtype},
                             headers=bearer(self.admin_key), timeout=10, trust_env=False)
        assert response.status_code == 200, response.text
        return {record for rr in response.json() for record in rr["records"]}

    def client_dir(self, name: str) -> Path:
        path = self.workdir / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path


@contextlib.contextmanager
def acme_stack(database_url: str, workdir: Path) -> Iterator[AcmeStack]:
    """Start the stack on an already migrated database (see ``stack_database``)."""
    from dnsgate.app import build_env
    from dnsgate.config import Settings
    from dnsgate.services.setup import ensure_builtin_backend

    settings = Settings(data_dir=workdir / "data", database_url=database_url,
                        secret_key=TEST_SECRET_KEY, dns_port=0)
    env = build_env(settings)
    ensure_builtin_backend(env)
    world = World(env)
    try:
        async def add_zone() -> None:
            try:
                await world.zone(ZONE)
            finally:
                await env.backends.aclose()

        asyncio.run(add_zone())
        admin_key = world.api_key(world.account(unique_label("admin"), admin=True))
        dns_port = free_dns_port()
        process_env = cli_env(settings.data_dir, database_url,
                              DNSGATE_DNS_PORT=str(dns_port),
                              DNSGATE_SECRET_KEY=TEST_SECRET_KEY,
                              DNSGATE_WRITE_RATE_LIMIT="1000/second")
        with running("serve", process_env) as server:
            pebble = start_pebble(workdir / "pebble", dns_port)
            try:
                yield AcmeStack(base=server.base, dns_port=dns_port, pebble=pebble,
                                world=world, admin_key=admin_key, workdir=workdir)
            finally:
                pebble.stop()
    finally:
        env.db.dispose()


# --- lego ----------------------------------------------------------------------

@dataclass
class LegoRun:
    returncode: int
    output: str
    path: Path

    def certificate(self, domain: str) -> x509.Certificate | None:
        found = self.path / "certificates" / f"{domain.replace('*', '_')}.crt"
        if not found.exists():
            return None
        return x509.load_pem_x509_certificates(found.read_bytes())[0]


def run_lego(stack: AcmeStack, domains: Sequence[str], provider: str,
             provider_env: Mapping[str, str], *, extra: Sequence[str] = ()) -> LegoRun:
    """``lego run`` against pebble with ``--dns provider``; DNS lookups (zone
    discovery, the propagation check) go to dnsgate's embedded server."""
    exe = require_tool("lego")
    path = stack.client_dir("lego")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LEGO_", "HTTPREQ_", "PDNS_"))}
    env.update(LEGO_CA_CERTIFICATES=str(stack.pebble.ca_cert), **provider_env)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    env["NO_PROXY"] = "*"
    args = [exe, "--server", stack.pebble.directory, "--accept-tos",
            "--email", "acme@example.test", "--path", str(path), "--key-type", "ec256",
            "--dns", provider, "--dns.resolvers", f"127.0.0.1:{stack.dns_port}",
            "--dns.disable-cp", *extra]
    for domain in domains:
        args += ["--domains", domain]
    args.append("run")
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=path,
                            timeout=CLIENT_TIMEOUT)
    return LegoRun(result.returncode, result.stdout + result.stderr, path)


def san_names(certificate: x509.Certificate) -> set[str]:
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return set(extension.value.get_values_for_type(x509.DNSName))
