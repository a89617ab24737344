"""The one map from a failure to what an account is told: each kind of error an
adapter or its library raises lands in one fixed category."""

from __future__ import annotations

import socket
import ssl

import aiohttp
import botocore.exceptions
import dns.exception
import dns.tsig
import pytest

from dnsgate.backends import failures
from dnsgate.domain.errors import BackendTimeout, BackendUnavailable, ZoneNotFound
from dnsgate.security.egress import EgressRefused


def _raised_from(inner: BaseException) -> BackendUnavailable:
    """An adapter's error raised "from None" while handling ``inner``."""
    try:
        try:
            raise inner
        except BaseException:
            raise BackendUnavailable("x backend failed", detail="d") from None
    except BackendUnavailable as outer:
        return outer


CASES = [
    (EgressRefused("127.0.0.1"), failures.CANNOT_CONNECT),
    (BackendTimeout("x backend timed out"), failures.TIMED_OUT),
    (ZoneNotFound("zone a.test is not there"), failures.ZONE_UNKNOWN),
    (failures.ProviderFailure("f", category=failures.AUTH_REFUSED), failures.AUTH_REFUSED),
    (_raised_from(ConnectionRefusedError()), failures.CANNOT_CONNECT),
    (_raised_from(socket.gaierror("no such name")), failures.CANNOT_CONNECT),
    (_raised_from(EOFError()), failures.CANNOT_CONNECT),
    (_raised_from(aiohttp.ServerDisconnectedError()), failures.CANNOT_CONNECT),
    (_raised_from(ssl.SSLCertVerificationError("bad cert")), failures.TLS_ERROR),
    (_raised_from(dns.exception.Timeout()), failures.TIMED_OUT),
    (_raised_from(dns.tsig.PeerBadKey()), failures.AUTH_REFUSED),
    (_raised_from(botocore.exceptions.EndpointConnectionError(endpoint_url="x")),
     failures.CANNOT_CONNECT),
    (_raised_from(botocore.exceptions.ConnectTimeoutError(endpoint_url="x")),
     failures.TIMED_OUT),
    (_raised_from(ValueError("not JSON")), failures.BAD_ANSWER),
    (BackendUnavailable("x backend failed", detail="HTTP 500"), failures.BAD_ANSWER),
]


@pytest.mark.parametrize(("error", "category"), CASES)
def test_each_failure_has_one_category(error, category):
    assert failures.categorize(error) == category


def test_every_category_has_a_sentence_and_back():
    for code, sentence in failures.SENTENCES.items():
        assert failures.of_sentence(sentence) == code
        assert failures.public(code) == f"{sentence} ({code})"
    assert failures.of_sentence(failures.CHECK_PASSED) is None


def test_what_an_account_is_told_keeps_a_timeout_a_timeout():
    timed_out = failures.account_error(_raised_from(dns.exception.Timeout()))
    assert isinstance(timed_out, BackendTimeout) and timed_out.detail == failures.TIMED_OUT
    refused = failures.account_error(BackendUnavailable("x", detail="upstream words"))
    assert not isinstance(refused, BackendTimeout)
    assert refused.message == failures.public(failures.BAD_ANSWER)
    assert "upstream words" not in refused.message + refused.detail
