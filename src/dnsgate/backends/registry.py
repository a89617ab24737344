"""Providers by name, and one live adapter per configured backend.

Each adapter module exports ``PROVIDER`` (a :class:`Provider`); the list below
is the one place a new provider is registered.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from dnsgate.backends.base import Backend, Provider, ProviderConfig
from dnsgate.backends.builtin import BuiltinBackend
from dnsgate.backends.sealing import unsealed
from dnsgate.db.engine import Database
from dnsgate.db.models import Backend as BackendRow
from dnsgate.domain.errors import InvalidInput, NotFound
from dnsgate.security.egress import Egress, EgressRefused, Network

BUILTIN = "builtin"

_PROVIDER_MODULES: tuple[str, ...] = (
    # one adapter module per line; each exports PROVIDER
    "powerdns",
    "rfc2136",
    "route53",
    "cloudflare",
    "netcup",
    "lexicon",
    # (new providers above this line)
)


def _opened_with_database(_config: ProviderConfig) -> Backend:
    raise RuntimeError("the built-in backend is opened by BackendRegistry")


def _load() -> dict[str, Provider]:
    builtin = Provider(
        name=BUILTIN, description="dnsgate's own zone store, served by its DNS server",
        config_model=ProviderConfig, capabilities=BuiltinBackend.capabilities,
        open=_opened_with_database)
    providers = {BUILTIN: builtin}
    for module in _PROVIDER_MODULES:
        provider: Provider = importlib.import_module(f"dnsgate.backends.{module}").PROVIDER
        providers[provider.name] = provider
    return providers


PROVIDERS: dict[str, Provider] = _load()


def provider(name: str) -> Provider:
    """The provider called ``name``; InvalidInput if there is none."""
    found = PROVIDERS.get(name)
    if found is None:
        raise InvalidInput(f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
    return found


class InvalidConfig(InvalidInput):
    """A configuration its provider's model refused; ``fields`` maps each top-level
    field (``""`` for the whole model) to its first problem, for forms."""

    def __init__(self, message: str, *, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def parse_config(name: str, config: dict[str, Any]) -> ProviderConfig:
    """Validate a provider configuration; errors name the field, never its value."""
    model = provider(name).config_model
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'config'}: {err['msg']}"
            for err in errors)
        fields: dict[str, str] = {}
        for err in errors:
            fields.setdefault(str(err["loc"][0]) if err["loc"] else "", err["msg"])
        raise InvalidConfig(f"invalid {name} configuration: {problems}",
                            fields=fields) from None


class BackendRegistry:
    """Opens each configured backend once (adapters keep sessions and caches).

    A backend an account owns is opened with the egress guard
    (``security/egress.py``): it connects only to public addresses and the
    operator's ``allow_networks``; a platform backend is not limited.
    """

    def __init__(self, db: Database, server_key: bytes, *,
                 allow_networks: Iterable[Network] = (),
                 byod_providers: Iterable[str] = ()) -> None:
        self.db = db
        self.server_key = server_key
        self.egress = Egress(tuple(allow_networks))
        #: Providers an account may bring its own backend of (DNSGATE_BYOD_PROVIDERS).
        self.byod_providers = tuple(byod_providers)
        self._open: dict[int, Backend] = {}

    def get(self, backend_id: int) -> Backend:
        backend = self._open.get(backend_id)
        if backend is None:
            with self.db.read() as session:
                row = session.execute(
                    select(BackendRow.provider, BackendRow.config,
                           BackendRow.owner_account_id).where(
                        BackendRow.id == backend_id)).one_or_none()
            if row is None:
                raise NotFound(f"backend {backend_id} not found")
            backend = self.open(row.provider, unsealed(self.server_key, row.config or {}),
                                owned=row.owner_account_id is not None)
            self._open[backend_id] = backend
        return backend

    def open(self, provider_name: str, config: dict[str, Any], *,
             owned: bool = False) -> Backend:
        """A new adapter for a configuration with its secrets in the clear (not cached).

        ``owned``: an account's own backend, opened with the egress guard
        (EgressRefused if its configuration names an address it may not reach)."""
        if provider_name == BUILTIN:
            return BuiltinBackend(self.db)
        parsed = parse_config(provider_name, config)
        if owned:
            return provider(provider_name).open(parsed, egress=self.egress)
        return provider(provider_name).open(parsed)

    def require_reachable(self, provider_name: str, config: ProviderConfig) -> None:
        """Refuse (InvalidConfig, by field) the configuration of an account's own
        backend that names an address the egress guard refuses, before it is
        saved. Host names are checked when they are resolved, at each use."""
        try:
            provider(provider_name).open(config, egress=self.egress)
        except EgressRefused as refused:
            field = refused.field or ""
            raise InvalidConfig(
                f"invalid {provider_name} configuration: "
                f"{field or 'config'}: {refused.reason}",
                fields={field: refused.reason}) from None

    def builtin(self) -> BuiltinBackend:
        """The adapter of the built-in store (there is one per database)."""
        return BuiltinBackend(self.db)

    async def forget(self, backend_id: int) -> None:
        """Drop (and close) a cached adapter after its configuration changed."""
        backend = self._open.pop(backend_id, None)
        await close(backend)

    async def aclose(self) -> None:
        """Close every open adapter (at shutdown)."""
        opened, self._open = list(self._open.values()), {}
        for backend in opened:
            await close(backend)


async def close(backend: Backend | None) -> None:
    """Release an adapter's connections, if it keeps any."""
    aclose = getattr(backend, "aclose", None)
    if aclose is not None:
        await aclose()
