"""What an account is told when its own backend fails: one of a few categories.

A backend an account brought points wherever the account chose, so what the
upstream says (an error page, a status line, a body) must never come back to
that account: it would make dnsgate a reader of whatever the URL reaches.
Checks, zone listings, record changes and audit events of account-owned
backends carry only a category (the code, and a fixed sentence for people);
platform backends keep the provider's detail for admins.

:func:`categorize` is the one map from a failure to its category: an
adapter's own errors say their category (:class:`ProviderFailure`), the
library errors underneath are told apart by type.
"""

from __future__ import annotations

import ssl
from typing import Final

import aiohttp
import botocore.exceptions
import dns.exception
import dns.message
import dns.tsig

from dnsgate.domain.errors import BackendTimeout, BackendUnavailable, ZoneNotFound
from dnsgate.security.egress import EgressRefused

CANNOT_CONNECT: Final = "cannot_connect"
TIMED_OUT: Final = "timed_out"
TLS_ERROR: Final = "tls_error"
AUTH_REFUSED: Final = "auth_refused"
BAD_ANSWER: Final = "bad_answer"
ZONE_UNKNOWN: Final = "zone_unknown"

#: Each category and the sentence people see for it.
SENTENCES: Final[dict[str, str]] = {
    CANNOT_CONNECT: "Could not connect to the provider.",
    TIMED_OUT: "The provider did not answer in time.",
    TLS_ERROR: "The provider's TLS certificate was not accepted.",
    AUTH_REFUSED: "The provider refused the credentials.",
    BAD_ANSWER: "The answer was not a DNS provider's answer.",
    ZONE_UNKNOWN: "The provider does not serve this zone.",
}
#: What a passed check of an account's own backend says.
CHECK_PASSED: Final = "Connected; the provider accepted the credentials."

_TLS = (ssl.SSLError, ssl.CertificateError, aiohttp.ClientSSLError,
        botocore.exceptions.SSLError)
_TIMEOUTS = (BackendTimeout, TimeoutError, dns.exception.Timeout,
             botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError)
_AUTH = (dns.tsig.PeerError, dns.message.UnknownTSIGKey, dns.tsig.BadSignature,
         dns.tsig.BadTime)
_CONNECT = (aiohttp.ClientConnectionError, ConnectionError, EOFError, OSError,
            botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionError)


class ProviderFailure(BackendUnavailable):
    """BackendUnavailable that knows its category."""

    def __init__(self, message: str, *, detail: str = "", category: str = BAD_ANSWER) -> None:
        super().__init__(message, detail=detail)
        self.category = category


def categorize(exc: BaseException) -> str:
    """The category of a failure (an adapter's error or a library's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _own_category(current)
        if found is not None:
            return found
        # Adapters raise "from None": the library's error is still the context.
        current = current.__cause__ or current.__context__
    return BAD_ANSWER


def _own_category(exc: BaseException) -> str | None:
    category = getattr(exc, "category", None)
    if isinstance(category, str) and category in SENTENCES:
        return category
    if isinstance(exc, EgressRefused):
        return CANNOT_CONNECT
    if isinstance(exc, ZoneNotFound):
        return ZONE_UNKNOWN
    if isinstance(exc, _TLS):  # before _CONNECT: TLS errors are OSErrors too
        return TLS_ERROR
    if isinstance(exc, _TIMEOUTS):
        return TIMED_OUT
    if isinstance(exc, _AUTH):
        return AUTH_REFUSED
    if isinstance(exc, _CONNECT):
        return CANNOT_CONNECT
    return None


def sentence(category: str) -> str:
    """The sentence people see for ``category``."""
    return SENTENCES.get(category, SENTENCES[BAD_ANSWER])


def of_sentence(text: str) -> str | None:
    """The category a stored sentence stands for (None: not a category's sentence)."""
    return next((code for code, said in SENTENCES.items() if said == text), None)


def public(category: str) -> str:
    """What an error of an account's own backend says: the sentence and the code."""
    return f"{sentence(category)} ({category})"


def account_error(exc: BaseException) -> BackendUnavailable:
    """The error an account's own backend raises instead of ``exc``: its category
    in a fixed sentence, the category as the detail (a timeout stays a timeout)."""
    category = categorize(exc)
    kind = BackendTimeout if category == TIMED_OUT else BackendUnavailable
    return kind(public(category), detail=category)
