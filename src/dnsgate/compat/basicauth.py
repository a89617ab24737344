"""Credentials where protocol clients put them, and masking them for logs.

Clients of the facades present a credential in one of three places:
``Authorization: Basic`` (username and password), ``Authorization: Bearer``,
or -- for routers whose firmware can only fill in a URL -- query or form
parameters such as ``?username=&password=``. Nothing here authenticates: a
facade takes the text and hands it to ``services.auth``.

A URL's query may carry a secret, so a facade never logs it as is:
:func:`redact_query` masks every parameter that could hold one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from dnsgate.domain.errors import Unauthenticated

MASK = "***"
GENERIC = "missing or invalid credentials"
#: Query/form parameters that may carry a secret (compared lowercased).
SECRET_PARAMS = frozenset({
    "password", "pass", "passwd", "pwd", "secret", "token", "key", "apikey", "api_key",
    "api-key", "auth", "authorization", "access_token",
})
USERNAME_PARAMS = ("username", "user", "login")
PASSWORD_PARAMS = ("password", "pass", "pwd")


@dataclass(frozen=True, slots=True)
class Presented:
    """A credential as the client sent it: where, and the two halves.

    For ``bearer`` the username is empty and the password is the credential.
    ``repr`` never shows the password.
    """

    placement: Literal["basic", "bearer", "query"]
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Presented(placement={self.placement!r}, username={self.username!r})"


def from_authorization(header: str) -> Presented | None:
    """The credential of an ``Authorization`` header (Basic or Bearer).

    None when the header is absent; Unauthenticated when it is present but
    unreadable (an unknown scheme, bad base64, no colon).
    """
    header = header.strip()
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return Presented("bearer", "", value)
    if scheme.lower() != "basic" or not value:
        raise Unauthenticated(GENERIC, code="token_invalid")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Unauthenticated(GENERIC, code="token_invalid") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    username, colon, password = text.partition(":")
    if not colon:
        raise Unauthenticated(GENERIC, code="token_invalid")
    return Presented("basic", username, password)


def from_params(params: Mapping[str, str], *,
                usernames: Iterable[str] = USERNAME_PARAMS,
                passwords: Iterable[str] = PASSWORD_PARAMS) -> Presented | None:
    """A credential put in the URL or form (``?username=..&password=..``), if any."""
    password = next((params[p] for p in passwords if params.get(p)), None)
    if password is None:
        return None
    username = next((params[u] for u in usernames if params.get(u)), "")
    return Presented("query", username, password)


def presented(authorization: str, params: Mapping[str, str]) -> Presented | None:
    """The request's credential: the ``Authorization`` header first, then the
    parameters. None when there is none at all."""
    return from_authorization(authorization) or from_params(params)


def redact_query(query: str) -> str:
    """A query string with the values of secret-looking parameters masked,
    for log lines (never log ``request.url`` itself)."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs],
                     safe=",*:")
