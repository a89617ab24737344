"""Backends: the provider connections an admin configures, checks and disables.

A configuration is validated by its provider's model on save; its secrets are
sealed at rest (``backends/sealing.py``) and shown as ``**********``
everywhere else. Sending the mask back on an edit keeps the stored secret, so
an admin can change a URL without re-typing a key.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.backends import registry
from dnsgate.backends.base import Health, ProviderConfig
from dnsgate.backends.registry import BUILTIN
from dnsgate.backends.sealing import sealed_dump, unsealed
from dnsgate.db.models import Backend
from dnsgate.domain.errors import BackendUnavailable, Conflict, Denied, InvalidInput, NotFound
from dnsgate.services import audit
from dnsgate.services.context import Caller, Env, RequestContext

MASK = "**********"
STATUSES = ("active", "disabled")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class BackendView:
    """A backend as responses show it: secrets masked."""

    id: int
    name: str
    provider: str
    status: str
    owner_account_id: int | None
    config: dict[str, Any]
    health_status: str
    health_message: str
    health_checked_at: datetime | None
    created_at: datetime


def _view(env: Env, row: Backend) -> BackendView:
    return BackendView(
        id=row.id, name=row.name, provider=row.provider, status=row.status,
        owner_account_id=row.owner_account_id, config=masked_config(env, row),
        health_status=row.health_status, health_message=row.health_message,
        health_checked_at=row.health_checked_at, created_at=row.created_at)


def masked_config(env: Env, row: Backend) -> dict[str, Any]:
    """The configuration with every secret replaced by the mask."""
    if row.provider == BUILTIN:
        return {}
    config = registry.parse_config(row.provider, unsealed(env.key, row.config or {}))
    shown: dict[str, Any] = config.model_dump(mode="json")
    return shown


def _find(session: Session, name: str) -> Backend:
    row = session.scalars(select(Backend).where(Backend.name == name)).first()
    if row is None:
        raise NotFound(f"backend {name!r} not found")
    return row


def _parse(provider: str, config: Mapping[str, Any]) -> ProviderConfig:
    if provider == BUILTIN:
        raise InvalidInput("the built-in backend exists once and has no configuration")
    return registry.parse_config(provider, dict(config))


def _merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``, where a masked value keeps the old one (recursively)."""
    out = dict(old)
    for key, value in new.items():
        if value == MASK and key in old:
            continue
        if isinstance(value, Mapping) and isinstance(old.get(key), Mapping):
            out[key] = _merge(old[key], value)
        else:
            out[key] = value
    return out


def list_backends(env: Env, *, owner_account_id: int | None = None) -> list[BackendView]:
    """Every backend, or only those an account brought (``owner_account_id``)."""
    stmt = select(Backend).order_by(Backend.name)
    if owner_account_id is not None:
        stmt = stmt.where(Backend.owner_account_id == owner_account_id)
    with env.db.read() as session:
        return [_view(env, row) for row in session.scalars(stmt)]


def find_backend(env: Env, caller: Caller, backend_id: int, *, own: bool) -> BackendView:
    """A backend by id for ``caller``: its own (``own``), or any for an admin.

    Anything else is NotFound, so another account's backend does not exist for you.
    """
    with env.db.read() as session:
        row = session.get(Backend, backend_id)
        mine = row is not None and row.owner_account_id == caller.account_id
        if row is None or not (mine or (caller.is_admin and not own)):
            raise NotFound(f"backend {backend_id} not found")
        return _view(env, row)


def add_own_backend(env: Env, ctx: RequestContext, *, caller: Caller, name: str,
                    provider: str, config: Mapping[str, Any],
                    allowed: Collection[str]) -> BackendView:
    """An account brings its own DNS: a backend only that account uses.

    ``allowed`` is the operator's list of providers accounts may add (the
    built-in store never: it is the platform's)."""
    if provider == BUILTIN or provider not in allowed:
        raise InvalidInput(f"provider {provider!r} is not open to accounts here")
    return add_backend(env, ctx, caller=caller, name=name, provider=provider, config=config,
                       owner_account_id=caller.account_id)


def get_backend(env: Env, name: str) -> BackendView:
    with env.db.read() as session:
        return _view(env, _find(session, name))


def add_backend(env: Env, ctx: RequestContext, *, caller: Caller | None, name: str,
                provider: str, config: Mapping[str, Any],
                owner_account_id: int | None = None) -> BackendView:
    """Save a provider connection (validated; secrets sealed). Not checked yet:
    ``check_backend`` talks to the provider."""
    if not _NAME.fullmatch(name):
        raise InvalidInput("backend names are 1-64 of a-z, 0-9, '-' and '_', "
                           "starting with a letter or digit")
    parsed = _parse(provider, config)
    now = env.clock()
    with env.db.write() as session:
        if session.scalars(select(Backend.id).where(Backend.name == name)).first() is not None:
            raise Conflict(f"backend {name!r} already exists")
        row = Backend(name=name, provider=provider, config=sealed_dump(env.key, parsed),
                      owner_account_id=owner_account_id, created_at=now)
        session.add(row)
        session.flush()
        audit.record(session, ctx, caller=caller, action="backend.add", when=now,
                     target=f"backend:{row.id}",
                     details={"name": name, "provider": provider,
                              "config": parsed.model_dump(mode="json")})
        return _view(env, row)


async def update_backend(env: Env, ctx: RequestContext, *, caller: Caller | None, name: str,
                         config: Mapping[str, Any] | None = None,
                         status: str | None = None) -> BackendView:
    """Change a backend's configuration (fields given; masked secrets kept) or status.

    A disabled backend refuses every record change of its zones on the next request.
    Only its owner changes the configuration of an account's own backend: a
    new URL with the stored (kept) secret would send that secret elsewhere.
    """
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    now = env.clock()
    with env.db.write() as session:
        row = _find(session, name)
        details: dict[str, Any] = {}
        if config is not None and row.owner_account_id not in (
                None, caller.account_id if caller else None):
            raise Denied("only its owner changes an account's own backend", code="forbidden")
        if config is not None:
            merged = _merge(unsealed(env.key, row.config or {}), config)
            parsed = _parse(row.provider, merged)
            row.config = sealed_dump(env.key, parsed)
            details["config"] = parsed.model_dump(mode="json")
        if status is not None:
            if row.provider == BUILTIN and status == "disabled":
                raise InvalidInput("the built-in backend cannot be disabled")
            row.status = status
            details["status"] = status
        session.flush()
        audit.record(session, ctx, caller=caller, action="backend.update", when=now,
                     target=f"backend:{row.id}", details=details)
        view = _view(env, row)
    await env.backends.forget(view.id)
    return view


async def check_backend(env: Env, ctx: RequestContext, *, caller: Caller | None,
                        name: str) -> BackendView:
    """Ask the provider whether the credentials work; record status, message and time."""
    with env.db.read() as session:
        backend_id = _find(session, name).id
    health = await _check(env, backend_id)
    with env.db.write() as session:
        row = _find(session, name)
        row.health_status = "ok" if health.ok else "failing"
        row.health_message = health.message[:500]
        row.health_checked_at = health.checked_at
        audit.record(session, ctx, caller=caller, action="backend.check", when=env.clock(),
                     outcome="success" if health.ok else "error",
                     code="ok" if health.ok else "backend_unavailable",
                     target=f"backend:{row.id}", details={"message": row.health_message})
        return _view(env, row)


async def _check(env: Env, backend_id: int) -> Health:
    try:
        return await env.backends.get(backend_id).check()
    except BackendUnavailable as exc:
        return Health.now(False, exc.message)
    except Exception as exc:  # a check reports, it does not raise
        return Health.now(False, f"check failed: {type(exc).__name__}")


async def backend_zones(env: Env, name: str) -> list[str]:
    """The zones the backend's credentials reach, for an admin to pick from."""
    with env.db.read() as session:
        backend_id = _find(session, name).id
    backend = env.backends.get(backend_id)
    if not backend.capabilities.list_zones:
        raise InvalidInput(f"backend {name} cannot list its zones; add a zone by name")
    return sorted(await backend.zones())

