"""Debian's ``lego`` obtains certificates from pebble through dnsgate: with
``--dns httpreq`` (``/httpreq``) and with ``--dns pdns`` (``/pdns``). pebble
checks the challenge through dnsgate's embedded DNS server; lego finds the
zone and checks propagation there too (``--dns.resolvers``).

A token for another name is refused: lego fails and no certificate is issued.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.acme import (
    ZONE,
    AcmeStack,
    acme_stack,
    run_lego,
    san_names,
)
from tests.support.databases import stack_database


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, database_backend: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[AcmeStack]:
    workdir = tmp_path_factory.mktemp("lego-stack")
    with stack_database(request, database_backend, workdir) as url, \
            acme_stack(url, workdir) as running:
        yield running


def _httpreq_env(stack: AcmeStack, token: str) -> dict[str, str]:
    return {"HTTPREQ_ENDPOINT": f"{stack.base}/httpreq", "HTTPREQ_USERNAME": "lego",
            "HTTPREQ_PASSWORD": token, "HTTPREQ_PROPAGATION_TIMEOUT": "30",
            "HTTPREQ_POLLING_INTERVAL": "1"}


def _pdns_env(stack: AcmeStack, token: str) -> dict[str, str]:
    return {"PDNS_API_URL": f"{stack.base}/pdns", "PDNS_API_KEY": token,
            "PDNS_PROPAGATION_TIMEOUT": "30", "PDNS_POLLING_INTERVAL": "1"}


def test_httpreq_issues_a_certificate(stack: AcmeStack) -> None:
    host = stack.host("web")
    _, realm = stack.account_with_realm(host)
    token = stack.world.token(realm).secret
    run = run_lego(stack, [host], "httpreq", _httpreq_env(stack, token))
    assert run.returncode == 0, run.output
    certificate = run.certificate(host)
    assert certificate is not None, run.output
    assert san_names(certificate) == {host}
    # lego cleaned up: its value is gone again
    assert stack.records(f"_acme-challenge.{host}") == set()


def test_httpreq_raw_mode_with_a_wildcard(stack: AcmeStack) -> None:
    """Two challenges at one name (``*.x`` and ``x``) are pending together."""
    host = stack.host("wild")
    _, realm = stack.account_with_realm(host)
    token = stack.world.token(realm).secret
    run = run_lego(stack, [host, f"*.{host}"], "httpreq",
                   {**_httpreq_env(stack, token), "HTTPREQ_MODE": "RAW"})
    assert run.returncode == 0, run.output
    certificate = run.certificate(host)
    assert certificate is not None, run.output
    assert san_names(certificate) == {host, f"*.{host}"}
    assert stack.records(f"_acme-challenge.{host}") == set()


def test_httpreq_token_of_another_name_is_refused(stack: AcmeStack) -> None:
    mine, other = stack.host("mine"), stack.host("other")
    _, realm = stack.account_with_realm(mine)
    token = stack.world.token(realm).secret
    run = run_lego(stack, [other], "httpreq", _httpreq_env(stack, token))
    assert run.returncode != 0, run.output
    assert "403" in run.output
    assert run.certificate(other) is None
    assert stack.records(f"_acme-challenge.{other}") == set()


def test_pdns_issues_a_certificate(stack: AcmeStack) -> None:
    host = stack.host("pdns")
    _, realm = stack.account_with_realm(host)
    token = stack.world.token(realm).secret
    run = run_lego(stack, [host], "pdns", _pdns_env(stack, token))
    assert run.returncode == 0, run.output
    certificate = run.certificate(host)
    assert certificate is not None, run.output
    assert san_names(certificate) == {host}
    assert stack.records(f"_acme-challenge.{host}") == set()


def test_pdns_token_of_another_name_is_refused(stack: AcmeStack) -> None:
    mine, other = stack.host("mine"), stack.host("other")
    _, realm = stack.account_with_realm(mine)
    token = stack.world.token(realm).secret
    run = run_lego(stack, [other], "pdns", _pdns_env(stack, token))
    assert run.returncode != 0, run.output
    assert "name_outside_realm" in run.output or "403" in run.output
    assert run.certificate(other) is None
    assert stack.records(f"_acme-challenge.{other}") == set()


def test_pdns_token_sees_nothing_outside_its_realm(stack: AcmeStack) -> None:
    """The zone lego reads has only the realm's records in it."""
    import httpx

    host = stack.host("see")
    _, realm = stack.account_with_realm(host)
    token = stack.world.token(realm).secret
    response = httpx.get(f"{stack.base}/pdns/api/v1/servers/localhost/zones/{ZONE}.",
                         headers={"X-API-Key": token}, timeout=10, trust_env=False)
    assert response.status_code == 200, response.text
    assert all(rr["name"] in (f"{host}.", f"_acme-challenge.{host}.")
               for rr in response.json()["rrsets"])
