"""Backends: the provider connections an admin configures, checks and disables.

A configuration is validated by its provider's model on save; its secrets are
sealed at rest (``backends/sealing.py``) and shown as ``**********``
everywhere else. Sending the mask back on an edit keeps the stored secret, so
an admin can change a URL without re-typing a key.

A backend an account brought (bring your own DNS) reaches only the addresses
the egress guard allows (``security/egress.py``), checked when it is saved and
at every connection, and what its provider says never reaches anyone: its
checks, zone listings and audit events carry a category only
(``backends/failures.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dnsgate.backends import failures, registry
from dnsgate.backends.base import Health, ProviderConfig
from dnsgate.backends.registry import BUILTIN
from dnsgate.backends.sealing import sealed_dump, unsealed
from dnsgate.db.models import Backend, Grant, Realm, Token, Zone
from dnsgate.domain.errors import (
    BackendUnavailable,
    Conflict,
    DnsgateError,
    InvalidInput,
    NotFound,
)
from dnsgate.domain.permissions import Target
from dnsgate.services import audit, permissions
from dnsgate.services.context import Caller, Env, RequestContext

log = logging.getLogger("dnsgate.backends")
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
    #: An account's own backend whose last check failed: the failure's category.
    health_category: str | None = None


def _view(env: Env, row: Backend) -> BackendView:
    owned = row.owner_account_id is not None
    return BackendView(
        id=row.id, name=row.name, provider=row.provider, status=row.status,
        owner_account_id=row.owner_account_id, config=masked_config(env, row),
        health_status=row.health_status, health_message=row.health_message,
        health_checked_at=row.health_checked_at, created_at=row.created_at,
        health_category=failures.of_sentence(row.health_message) if owned else None)


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
        if row is None:
            raise NotFound(f"backend {backend_id} not found")
        permissions.require(caller, "see", _target(row), what=f"backend {backend_id}",
                            own=own)
        return _view(env, row)


def _target(row: Backend) -> Target:
    """A backend as ``domain/permissions.py`` sees it."""
    return Target("backend", owner_id=row.owner_account_id, own_dns_id=row.owner_account_id)


def add_own_backend(env: Env, ctx: RequestContext, *, caller: Caller, name: str,
                    provider: str, config: Mapping[str, Any],
                    allowed: Collection[str]) -> BackendView:
    """An account brings its own DNS: a backend only that account uses.

    ``allowed`` is the operator's list of providers accounts may add (the
    built-in store never: it is the platform's)."""
    if provider == BUILTIN or provider not in allowed:
        raise InvalidInput(f"provider {provider!r} is not open to accounts here")
    env.backends.require_reachable(provider, _parse(provider, config))
    return add_backend(env, ctx, caller=caller, name=name, provider=provider, config=config,
                       owner_account_id=caller.account_id)


def own_backend(env: Env, caller: Caller, name: str) -> BackendView:
    """The caller's own backend called ``name``; NotFound for any other."""
    with env.db.read() as session:
        row = session.scalars(select(Backend).where(Backend.name == name)).first()
        if row is None:
            raise NotFound(f"backend {name!r} not found")
        permissions.require(caller, "see", _target(row), what=f"backend {name!r}", own=True)
        return _view(env, row)


async def delete_own_backend(env: Env, ctx: RequestContext, *, caller: Caller,
                             name: str) -> list[str]:
    """Delete the caller's own backend with the zones it serves and the realms,
    grants and tokens in them (as deleting the account would); returns the
    zones removed. Records at the provider stay as they are."""
    now = env.clock()
    with env.db.write() as session:
        row = session.scalars(select(Backend).where(Backend.name == name)).first()
        if row is None:
            raise NotFound(f"backend {name!r} not found")
        permissions.require(caller, "delete", _target(row), what=f"backend {name!r}",
                            own=True)
        backend_id = row.id
        zone_rows = session.execute(select(Zone.id, Zone.name).where(
            Zone.backend_id == backend_id).order_by(Zone.name)).all()
        zone_ids = [z.id for z in zone_rows]
        realm_ids = select(Realm.id).where(Realm.zone_id.in_(zone_ids))
        session.execute(delete(Token).where(Token.realm_id.in_(realm_ids)))
        session.execute(delete(Realm).where(Realm.zone_id.in_(zone_ids)))
        session.execute(delete(Grant).where(Grant.zone_id.in_(zone_ids)))
        session.execute(delete(Zone).where(Zone.id.in_(zone_ids)))
        session.execute(delete(Backend).where(Backend.id == backend_id))
        removed = [z.name for z in zone_rows]
        audit.record(session, ctx, caller=caller, action="backend.delete", when=now,
                     target=f"backend:{backend_id}",
                     details={"name": name, "zones": removed})
    await env.backends.forget(backend_id)  # the cached adapter holds its credentials
    return removed


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
        if config is not None:
            permissions.require(caller, "change", _target(row), what=f"backend {name}")
            merged = _merge(unsealed(env.key, row.config or {}), config)
            parsed = _parse(row.provider, merged)
            if row.owner_account_id is not None:
                env.backends.require_reachable(row.provider, parsed)
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
    """Ask the provider whether the credentials work; record status, message and time.

    An account's own backend records a fixed sentence (its category when it
    failed), never the provider's words; the server log keeps the detail."""
    with env.db.read() as session:
        found = _find(session, name)
        backend_id, owned = found.id, found.owner_account_id is not None
    health, category = await _check(env, backend_id)
    if owned:
        message = failures.CHECK_PASSED if health.ok else failures.sentence(category)
        details: dict[str, Any] = {"category": "ok" if health.ok else category}
        if not health.ok:
            log.info("own backend %s failed its check (%s): %s", name, category,
                     health.message[:500])
    else:
        message = health.message[:500]
        details = {"message": message}
    with env.db.write() as session:
        row = _find(session, name)
        row.health_status = "ok" if health.ok else "failing"
        row.health_message = message
        row.health_checked_at = health.checked_at
        audit.record(session, ctx, caller=caller, action="backend.check", when=env.clock(),
                     outcome="success" if health.ok else "error",
                     code="ok" if health.ok else "backend_unavailable",
                     target=f"backend:{row.id}", details=details)
        return _view(env, row)


async def _check(env: Env, backend_id: int) -> tuple[Health, str]:
    """What the check found, and the category of a failure."""
    try:
        health = await env.backends.get(backend_id).check()
    except BackendUnavailable as exc:
        return Health.now(False, exc.message), failures.categorize(exc)
    except Exception as exc:  # a check reports, it does not raise
        return (Health.now(False, f"check failed: {type(exc).__name__}"),
                failures.categorize(exc))
    return health, health.category or failures.BAD_ANSWER


async def backend_zones(env: Env, name: str) -> list[str]:
    """The zones the backend's credentials reach, to pick one from.

    An account's own backend fails with its category only."""
    with env.db.read() as session:
        found = _find(session, name)
        backend_id, owned = found.id, found.owner_account_id is not None
    try:
        backend = env.backends.get(backend_id)
        if not backend.capabilities.list_zones:
            raise InvalidInput(f"backend {name} cannot list its zones; add a zone by name")
        return sorted(await backend.zones())
    except InvalidInput:
        raise
    except (DnsgateError, OSError) as exc:
        if not owned:
            raise
        log.info("own backend %s failed to list its zones: %s", name,
                 getattr(exc, "detail", "") or type(exc).__name__)
        raise failures.account_error(exc) from None

