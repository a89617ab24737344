"""Hostile bytes on the wire, to a real ``dnsgate serve`` on loopback: what an
HTTP client library would never send (NUL, bytes that are not UTF-8, lone
surrogates) is a 4xx from uvicorn or dnsgate, never a 500; and the refusals
are in the audit log, in aggregate, once the server has stopped.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

from tests.support.server import cli_env, running


def _raw(base: str, request: bytes) -> tuple[int, bytes]:
    """Send one raw HTTP/1.1 request; the status and the whole answer."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def _get(path: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def _post(path: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            b"Content-Type: " + content_type + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


CASES = [
    (_get(b"/api/v1/zones?x=%00"), {422}),
    (_get(b"/api/v1/zones/a%00b/rrsets"), {422}),
    (_get(b"/ui/login?next=%00"), {422}),
    (_get(b"/api/v1/zones/%ED%A0%80/rrsets"), {401}),
    (_get(b"/api/v1/zones/\xff\xfe/rrsets"), {400, 401}),
    (_get(b"/ui/%ED%A0%80"), {404}),
    (_get(b"/nic/update?hostname=%ED%A0%80&password=%FF"), {200}),
    (_post(b"/api/v1/auth/api-keys", b'{"username": "\\ud800", "password": "x"}'), {422}),
    (_post(b"/api/v1/auth/api-keys", b'{"username": "a\\u0000", "password": "x"}'), {422}),
    (_post(b"/api/v1/auth/api-keys", b'{"username": "\xff", "password": "x"}'), {422}),
    (_post(b"/httpreq/present", b'{"fqdn": "\\udfff", "value": "x"}'), {401}),
    (_post(b"/nic/update", b"hostname=a%00b&myip=1.2.3.4",
           b"application/x-www-form-urlencoded"), {401}),  # no credential: the Basic challenge
    (b"POST /api/v1/auth/api-keys HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
     b"Content-Length: \xb2\r\n\r\n", {400, 413}),
]


def test_hostile_bytes_are_refused_never_a_server_error(tmp_path, migrated_database_url):
    env = cli_env(tmp_path / "data", migrated_database_url)
    with running("serve", env) as server:
        for request, expected in CASES:
            status, answer = _raw(server.base, request)
            assert status in expected, (request, answer[:400])
    engine = create_engine(migrated_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT code, details FROM audit_events WHERE action = 'request.refused'")).all()
    finally:
        engine.dispose()
    assert {code for code, _ in rows} >= {"credential_refused", "input_refused", "not_found"}
    assert len(rows) <= 6
