"""Log lines as text or JSON with the request id, and the access log (``observability/logs.py``).

The request id a line carries is the one the client got in ``X-Request-ID``:
the edge assigns it, the request middleware makes it the current request's.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from dnsgate.edge.middleware import Edge
from dnsgate.observability import logs
from tests.support.factories import bearer
from tests.support.server import cli_env, running

FORGED = "dg_abcdefghijklmnop_" + "q" * 52
SECRET = "hunter2-in-the-query"


class Captured:
    """What a handler of one format wrote, line by line."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger and the access logger as they were, after the test."""
    root, access = logging.getLogger(), logging.getLogger(logs.ACCESS)
    handlers, level, access_level = list(root.handlers), root.level, access.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    access.setLevel(access_level)


def capture(log_format: logs.LogFormat, *, access_log: bool = False) -> Captured:
    stream = io.StringIO()
    logs.configure(level="info", log_format=log_format, access_log=access_log, stream=stream)
    return Captured(stream)


async def test_a_json_line_carries_the_request_id_the_client_got(client, root_logging):
    out = capture("json")
    response = await client.get("/api/v1/zones", headers=bearer(FORGED))
    assert response.status_code == 401
    (line,) = [line for line in out.json() if line["logger"] == "dnsgate.refused"]
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["level"] == "INFO"
    assert line["message"].startswith("refused 401 token_invalid on api")
    assert line["time"].endswith("+00:00")


async def test_the_clients_own_request_id_is_the_lines(client, root_logging):
    out = capture("json")
    await client.get("/api/v1/whoami", headers={**bearer(FORGED), "X-Request-ID": "trace-42"})
    assert [line["request_id"] for line in out.json()
            if line["logger"] == "dnsgate.refused"] == ["trace-42"]


async def test_a_text_line_names_the_request_too(client, root_logging):
    out = capture("text")
    await client.get("/api/v1/whoami", headers={**bearer(FORGED), "X-Request-ID": "trace-43"})
    (line,) = [line for line in out.lines() if " dnsgate.refused " in line]
    assert " INFO dnsgate.refused [trace-43] refused 401 token_invalid" in line


def test_a_line_outside_any_request_has_no_request_id(root_logging):
    out = capture("json")
    logging.getLogger("dnsgate.test").warning("starting %s", "up")
    (line,) = out.json()
    assert line["message"] == "starting up"
    assert "request_id" not in line
    text = capture("text")
    logging.getLogger("dnsgate.test").warning("again")
    assert text.lines()[0].endswith(" WARNING dnsgate.test [-] again")


async def test_a_thread_working_for_a_request_names_it(root_logging):
    out = capture("json")
    token = logs.bind_request({"dnsgate": Edge("trace-44", "192.0.2.1")})
    try:
        await asyncio.to_thread(logging.getLogger("dnsgate.test").info, "from a thread")
    finally:
        logs.unbind_request(token)
    assert out.json()[0]["request_id"] == "trace-44"
    assert logs.current_request_id() is None


def test_extras_and_tracebacks_are_fields(root_logging):
    out = capture("json")
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        logging.getLogger("dnsgate.test").exception("it failed", extra={"zone": "example.test",
                                                                        "count": 3})
    (line,) = out.json()  # one line, whatever the traceback holds
    assert line["zone"] == "example.test" and line["count"] == 3
    assert "ValueError: broken\nacross lines" in line["exception"]
    assert len(out.lines()) == 1


def test_configure_replaces_only_its_own_handler(root_logging):
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    first = capture("text")
    second = capture("json")
    logging.getLogger("dnsgate.test").warning("once")
    assert first.lines() == [] and len(second.lines()) == 1
    assert other in logging.getLogger().handlers


# --- the access log -----------------------------------------------------------


async def test_the_access_log_has_one_line_per_request(make_settings, env, make_client,
                                                       root_logging):
    from dnsgate.app import create_app

    out = capture("json", access_log=True)
    app = create_app(make_settings(access_log=True), env=env, migrate_on_start=False)
    async with make_client(app, peer="192.0.2.9") as c:
        response = await c.get(f"/nic/update?hostname=home.example.test&password={SECRET}")
    (line,) = [line for line in out.json() if line["logger"] == logs.ACCESS]
    assert line["request_id"] == response.headers["x-request-id"]
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "GET", "/nic/update", "/nic/update", response.status_code)
    assert line["client_ip"] == "192.0.2.9"
    assert line["duration_ms"] > 0
    ours = [line for line in out.json() if line["logger"].startswith("dnsgate.")]
    assert SECRET not in json.dumps(ours)  # the query is never written (httpx's own log has it)


async def test_the_access_log_escapes_what_would_break_a_text_line(make_settings, env,
                                                                   make_client, root_logging):
    from dnsgate.app import create_app

    out = capture("text", access_log=True)
    app = create_app(make_settings(access_log=True), env=env, migrate_on_start=False)
    async with make_client(app) as c:
        await c.get("/api/v1/zones/a%0Afake%20line")
    (line,) = [line for line in out.lines() if f" {logs.ACCESS} " in line]
    assert "GET /api/v1/zones/a\\nfake line 404" in line


async def test_no_access_log_unless_asked(client, root_logging):
    out = capture("json")
    await client.get("/healthz")
    assert [line for line in out.json() if line["logger"] == logs.ACCESS] == []


# --- the real server ----------------------------------------------------------


def test_serve_writes_json_lines_with_the_request_id(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url, DNSGATE_LOG_FORMAT="json",
                  DNSGATE_ACCESS_LOG="1")
    with running("serve", env) as server:
        assert all(json.loads(line)["level"] for line in server.banner.splitlines())
        response = httpx.get(f"{server.base}/healthz", headers={"X-Request-ID": "trace-45"})
        assert response.status_code == 200
        assert server.process.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = json.loads(server.process.stdout.readline())
            if line.get("request_id") == "trace-45":
                break
        assert line["logger"] == logs.ACCESS, line
        assert (line["path"], line["status"], line["client_ip"]) == ("/healthz", 200,
                                                                     "127.0.0.1")
