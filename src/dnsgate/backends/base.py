"""The backend interface: every provider speaks RRsets.

Adapters implement :class:`Backend`; a provider declares what it can do in
:class:`Capabilities` so the services refuse what it cannot (never a silent
partial write).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dnsgate.db.raw import Executor
from dnsgate.domain.records import WRITABLE_TYPES, Change, RRset


@dataclass(frozen=True, slots=True)
class Capabilities:
    list_zones: bool = True
    create_zones: bool = False
    record_types: frozenset[str] = field(default_factory=lambda: WRITABLE_TYPES)
    atomic_batches: bool = False
    per_record_ttl: bool = True
    #: Records live in dnsgate's own database: the adapter is a TransactionalBackend.
    transactional: bool = False
    #: ``apply()`` replaces or deletes RRsets in one atomic upstream call and the
    #: provider itself refuses CNAME conflicts, so a change that is allowed
    #: whatever the zone holds may be written without reading the zone first.
    blind_writes: bool = False


@dataclass(frozen=True, slots=True)
class Health:
    """What ``check()`` found. ``message`` is shown to admins: never a secret.

    ``category``: for a failed check, what an account is told instead of the
    message (``backends/failures.py``); "" lets the services decide."""

    ok: bool
    message: str
    checked_at: datetime
    category: str = ""

    @classmethod
    def now(cls, ok: bool, message: str, category: str = "") -> Health:
        return cls(ok, message, datetime.now(UTC), category)


@dataclass(frozen=True, slots=True)
class ZoneDefaults:
    """SOA/NS defaults for a zone a backend creates."""

    nameservers: tuple[str, ...]
    hostmaster: str
    ttl: int = 3600


class Backend(Protocol):
    """One configured connection to a DNS provider.

    Optional: ``async read_for_change(zone, name) -> list[RRset]``, the state a
    change is planned against, for adapters that keep a fresh copy of the zone
    made of every change they applied (netcup): it spares a read per write.
    Only the create/update distinction can see a few minutes' old state there;
    names, types and realms are decided on the change itself.
    """

    capabilities: Capabilities

    async def check(self) -> Health: ...

    async def zones(self) -> list[str]: ...

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]: ...

    async def apply(self, zone: str, changes: Sequence[Change]) -> None: ...


class TransactionalBackend(Backend, Protocol):
    """A backend that stores records in dnsgate's own database, so a change,
    its authorization and its audit event commit in one transaction."""

    def read_in(self, session: Executor, zone: str, name: str | None = None,
                rtype: str | None = None) -> list[RRset]: ...

    def apply_in(self, session: Executor, zone: str, changes: Sequence[Change]) -> int | None: ...


class ProviderConfig(BaseModel):
    """Base of every provider's configuration model, validated on save.

    Secrets are ``SecretStr`` fields: they print as ``**********`` and are
    masked in every API response, log line and audit event.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    #: Seconds allowed for one upstream call before it counts as a timeout (504).
    timeout: float = Field(default=10.0, gt=0, le=120,
                           description="Seconds one call to the provider may take.")


@dataclass(frozen=True, slots=True)
class Provider:
    """A kind of DNS provider: how to configure it, what it can do, how to open it.

    ``open(config, egress=None)``: with an :class:`~dnsgate.security.egress.Egress`
    (a backend an account brought), the adapter connects only where it allows,
    and refuses at once (EgressRefused) what it can tell from the configuration.
    """

    name: str
    description: str
    config_model: type[ProviderConfig]
    capabilities: Capabilities
    open: Callable[..., Backend]


def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of the fields of ``model`` that hold secrets."""
    return frozenset(name for name, info in model.model_fields.items()
                     if info.annotation in (SecretStr, SecretStr | None))


def secret_values(config: BaseModel) -> list[str]:
    """Every secret in a configuration, nested ones included (to prove none leaks)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(config.model_dump(mode="python"))
    return [value for value in found if value]


def provider_url(value: str, *, https_only: bool = False, allow_query: bool = False) -> str:
    """Validate a provider's base URL (http/https, a host, no user:password in it).

    ``https_only``: plain http only to a loopback address (tests, a local
    proxy), for providers whose credentials travel in the request. Messages
    never echo the value: a URL may carry credentials.
    """
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise ValueError("must be an http or https URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    if https_only and parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("must use https (plain http only to a loopback address)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials")
    if not allow_query and (parts.query or parts.fragment):
        raise ValueError("must not have a query or fragment")
    return value if allow_query else value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
