"""The one audit writer. Every mutation and every denial goes through :func:`record`.

Callers pass the session of the transaction that makes the change, so the
change and its event commit together (or neither does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from dnsgate.db.raw import Executor, Raw
from dnsgate.services.context import Caller, RequestContext

MASK = "***"
_SECRET_HINTS = ("password", "secret", "token", "key", "authorization", "totp", "credential")


def mask(details: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the values of secret-looking keys, recursively."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if _looks_secret(key):
            out[key] = MASK
        elif isinstance(value, Mapping):
            out[key] = mask(value)
        else:
            out[key] = value
    return out


@lru_cache(maxsize=1024)
def _looks_secret(key: str) -> bool:
    """Cached: the same few keys ("ttl", "records", ...) come on every request."""
    lowered = key.lower()
    return any(hint in lowered for hint in _SECRET_HINTS) and not lowered.endswith("_id")


_INSERT = """
INSERT INTO audit_events (time, actor_type, actor_id, account_id, action, zone, name, rtype,
    target, source_ip, user_agent, request_id, outcome, code, details)
VALUES (:time, :actor_type, :actor_id, :account_id, :action, :zone, :name, :rtype,
    :target, :source_ip, :user_agent, :request_id, :outcome, :code, :details)
"""


def record(
    session: Executor,
    ctx: RequestContext,
    *,
    caller: Caller | None,
    action: str,
    when: datetime,
    outcome: str = "success",
    code: str = "ok",
    zone: str | None = None,
    name: str | None = None,
    rtype: str | None = None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: tuple[str, str] | None = None,
) -> None:
    """Append one audit event in the caller's transaction (hand-written SQL: it
    runs on every request, see ``db/raw.py``).

    ``actor``: (type, public id) of a credential that is no Caller (one that was
    refused), for an event without ``caller``."""
    raw = Raw.of(session)
    actor_type, actor_id = ((caller.actor_type, caller.actor_id) if caller
                            else actor or ("system", ""))
    raw.execute(session, _INSERT, {
        "time": raw.time_in(when),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "account_id": caller.account_ref if caller else None,
        "action": action,
        "zone": zone,
        "name": name,
        "rtype": rtype,
        "target": target,
        "source_ip": ctx.source_ip,
        "user_agent": (ctx.user_agent or "")[:255] or None,
        "request_id": ctx.request_id,
        "outcome": outcome,
        "code": code,
        "details": raw.json_in(mask({"surface": ctx.surface, **(details or {})})),
    })
