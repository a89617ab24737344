"""certbot obtains a certificate from pebble through dnsgate's acme-dns API.

The acme-dns client is certbot-dns-multi (PyPI), which runs lego's
``acme-dns`` provider (goacmedns) inside certbot. It needs certbot from PyPI
in the same virtualenv: Debian's certbot runs on the system Python and does
not see plugins installed into ``.venv``.

The acme-dns account is registered through ``/acme-dns/register`` with the
account's API key and handed to the plugin as its storage file (the plugin's
own registration is unauthenticated, which dnsgate refuses). All DNS lookups
of the client go to dnsgate's embedded server (``--dns-multi-nameservers``;
CNAME following off), and pebble validates through it too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from tests.support.acme import (
    CLIENT_TIMEOUT,
    AcmeStack,
    acme_stack,
    san_names,
)
from tests.support.databases import stack_database
from tests.support.factories import bearer

CERTBOT = Path(sys.executable).with_name("certbot")


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, database_backend: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[AcmeStack]:
    workdir = tmp_path_factory.mktemp("certbot-stack")
    with stack_database(request, database_backend, workdir) as url, \
            acme_stack(url, workdir) as running:
        yield running


def _register(stack: AcmeStack, api_key: str, domain: str) -> dict[str, Any]:
    response = httpx.post(f"{stack.base}/acme-dns/register", json={"domain": domain},
                          headers=bearer(api_key), timeout=10, trust_env=False)
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account


def _certbot(stack: AcmeStack, domains: list[str],
             accounts: dict[str, dict[str, Any]]) -> tuple[int, str, Path]:
    """``certbot certonly`` with the dns-multi plugin and lego's acme-dns provider."""
    assert CERTBOT.exists(), "certbot is required in the virtualenv (pip install certbot)"
    work = stack.client_dir("certbot")
    storage = work / "acme-dns.json"
    storage.write_text(json.dumps({
        domain: {**account, "server_url": f"{stack.base}/acme-dns"}
        for domain, account in accounts.items()}))
    storage.chmod(0o600)
    credentials = work / "multi.ini"
    credentials.write_text(
        "dns_multi_provider = acme-dns\n"
        f"ACME_DNS_API_BASE = {stack.base}/acme-dns\n"
        f"ACME_DNS_STORAGE_PATH = {storage}\n"
        "LEGO_DISABLE_CNAME_SUPPORT = true\n")
    credentials.chmod(0o600)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ACME_DNS_", "LEGO_", "HTTP_PROXY", "HTTPS_PROXY"))
           and k.lower() not in ("http_proxy", "https_proxy")}
    env.update(REQUESTS_CA_BUNDLE=str(stack.pebble.ca_cert), NO_PROXY="*",
               LEGO_DISABLE_CNAME_SUPPORT="true")
    args = [str(CERTBOT), "certonly", "--non-interactive", "--agree-tos",
            "-m", "x@example.test", "--no-eff-email",
            "--server", stack.pebble.directory,
            "--config-dir", str(work / "config"), "--work-dir", str(work / "work"),
            "--logs-dir", str(work / "logs"),
            "--preferred-challenges", "dns", "--authenticator", "dns-multi",
            "--dns-multi-credentials", str(credentials),
            "--dns-multi-propagation-seconds", "1",
            "--dns-multi-nameservers", f"127.0.0.1:{stack.dns_port}",
            "--cert-name", "test"]
    for domain in domains:
        args += ["-d", domain]
    result = subprocess.run(args, capture_output=True, text=True, env=env,
                            timeout=CLIENT_TIMEOUT)
    output = result.stdout + result.stderr
    log = work / "logs" / "letsencrypt.log"
    if result.returncode != 0 and log.exists():
        output += "\n--- letsencrypt.log ---\n" + log.read_text(errors="replace")[-6000:]
    return result.returncode, output, work / "config" / "live" / "test" / "fullchain.pem"


def test_certbot_issues_a_certificate_through_acme_dns(stack: AcmeStack) -> None:
    host = stack.host("cb")
    account_id, _ = stack.account_with_realm(host)
    registered = _register(stack, stack.world.api_key(account_id), host)
    assert registered["fulldomain"] == f"_acme-challenge.{host}"
    code, output, fullchain = _certbot(stack, [host, f"*.{host}"],
                                       {host: registered, f"*.{host}": registered})
    assert code == 0, output
    certificate = x509.load_pem_x509_certificates(fullchain.read_bytes())[0]
    assert san_names(certificate) == {host, f"*.{host}"}
    # acme-dns keeps the (two) newest values; both challenges were answered at once
    assert len(stack.records(f"_acme-challenge.{host}")) == 2


def test_certbot_with_an_account_of_another_name_gets_nothing(stack: AcmeStack) -> None:
    """The account writes only its own challenge name: the other name's
    challenge stays unanswered and pebble refuses."""
    mine, other = stack.host("mine"), stack.host("other")
    account_id, _ = stack.account_with_realm(mine)
    registered = _register(stack, stack.world.api_key(account_id), mine)
    code, output, fullchain = _certbot(stack, [other], {other: registered})
    assert code != 0, output
    assert "unauthorized" in output  # pebble found no answer, not a setup error
    assert not fullchain.exists()
    assert stack.records(f"_acme-challenge.{other}") == set()


def test_register_for_a_name_outside_the_realms_is_refused(stack: AcmeStack) -> None:
    mine, other = stack.host("mine"), stack.host("other")
    account_id, _ = stack.account_with_realm(mine)
    response = httpx.post(f"{stack.base}/acme-dns/register", json={"domain": other},
                          headers=bearer(stack.world.api_key(account_id)), timeout=10,
                          trust_env=False)
    assert response.status_code == 403
    assert response.json() == {"error": "name_outside_realm"}
    open_register = httpx.post(f"{stack.base}/acme-dns/register", timeout=10,
                               trust_env=False)
    assert open_register.status_code == 401
