"""Log lines that name their request: text or JSON (``DNSGATE_LOG_FORMAT``).

The request id is assigned by the edge middleware (``edge/middleware.py``), which
runs inside the request middleware (``observability/middleware.py``). So the
request middleware binds the request's ASGI scope to a context variable, and
a log line reads the id from the scope when it is written: whatever code
logs during the request (and the threads it hands work to, which copy the
context) is named, with nothing passed along.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import IO, Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
#: The logger of the access log (``DNSGATE_ACCESS_LOG``), one line per request.
ACCESS = "dnsgate.access"

_scope: contextvars.ContextVar[MutableMapping[str, Any] | None] = contextvars.ContextVar(
    "dnsgate_request_scope", default=None)
# What every LogRecord has: anything else on a record came as ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "request_id", "color_message"}  # uvicorn's ANSI-coloured copy


def bind_request(scope: MutableMapping[str, Any]) -> contextvars.Token[Any]:
    """Make ``scope`` the current request's; pass the token to :func:`unbind_request`."""
    return _scope.set(scope)


def unbind_request(token: contextvars.Token[Any]) -> None:
    _scope.reset(token)


def current_request_id() -> str | None:
    """The id of the request being served here, if any (and once the edge set it)."""
    scope = _scope.get()
    edge = scope.get("dnsgate") if scope is not None else None
    request_id: str | None = getattr(edge, "request_id", None)
    return request_id


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id,
    what came as ``extra=``, and the exception's traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id and request_id != "-":
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def handler(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing lines of ``log_format`` to ``stream`` (stderr)."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(RequestIdFilter())
    out.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return out


def configure(*, level: str, log_format: LogFormat, access_log: bool,
              stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's lines (uvicorn's too) to one handler on the root logger;
    the handler. Replaces a handler an earlier call installed."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_dnsgate", False)]:
        root.removeHandler(old)
    new = handler(log_format, stream)
    new._dnsgate = True  # type: ignore[attr-defined]
    root.addHandler(new)
    root.setLevel(level.upper())
    # Asked for, so written whatever the level: it is the operator's request log.
    logging.getLogger(ACCESS).setLevel(logging.INFO if access_log else logging.NOTSET)
    return new
