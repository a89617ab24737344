"""Any DNS provider dns-lexicon supports, through its Python API.

Lexicon speaks single records (create / list / delete one record), is
blocking (``requests``) and cannot list zones, so this bridge

* runs every lexicon call in a worker thread under ``asyncio.wait_for``, with
  a default HTTP timeout on the ``requests`` calls made from that thread (so
  an abandoned thread ends too);
* turns one Upsert into record deletes and creates, and undoes the done ones
  (best effort) when a later call fails: batches are not atomic;
* instantiates the lexicon provider for the exact zone dnsgate manages.
  ``lexicon.client.Client`` is not used: it guesses the zone with
  ``tldextract``, which downloads the public suffix list and gets private
  zones such as ``lab.example`` wrong.

Records are mapped to RRsets, and changes to record calls, in
:mod:`dnsgate.backends.lexicon_records`, per provider dialect.

``credentials`` holds the provider's options (``auth_token``, ``pdns_server``,
...). Every value is a secret (masked, sealed at rest) except the keys in
:data:`PUBLIC_OPTIONS` (endpoints and ids), which stay plain strings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import Field, SecretStr, field_validator, model_validator

from dnsgate.backends.base import Capabilities, Health, Provider, ProviderConfig
from dnsgate.backends.lexicon_records import (
    ALL_TYPES,
    ListedRecord,
    Step,
    change_steps,
    dialect,
    parse_record,
    to_rrsets,
    wanted_contents,
)
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    DnsgateError,
    InvalidName,
    ZoneNotFound,
)
from dnsgate.domain.records import Change, RRset, Upsert
from dnsgate.security.egress import Egress, EgressRefused

log = logging.getLogger(__name__)
T = TypeVar("T")

FAILED = "lexicon backend failed"
TIMED_OUT = "lexicon backend timed out"
_EXCERPT = 200
#: Provider options that are not secrets: where the API is, which server or zone id.
PUBLIC_OPTIONS = frozenset({"pdns_server", "pdns_server_id", "pdns_disable_notify",
                            "endpoint", "ib_host", "ddns_server", "zone_id"})
_OPTION = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


# -- configuration ----------------------------------------------------------


def available_providers() -> dict[str, bool]:
    """Lexicon's providers, each with whether its extra dependencies are installed."""
    try:
        from lexicon._private.discovery import find_providers
    except ImportError:  # dns-lexicon is an optional dependency
        return {}
    return dict(find_providers())


def _provider_class(provider_name: str) -> Any:
    from lexicon._private.discovery import load_provider_module
    return load_provider_module(provider_name).Provider


@functools.cache
def provider_options(provider_name: str) -> frozenset[str]:
    """The options a lexicon provider declares on its command line (``--auth-token``...)."""
    parser = argparse.ArgumentParser(add_help=False)
    _provider_class(provider_name).configure_parser(parser)
    return frozenset(vars(parser.parse_args([])))


class LexiconConfig(ProviderConfig):
    """A lexicon provider and its options; see the module docstring for secrets."""

    provider_name: str = Field(min_length=1, max_length=64)
    credentials: dict[str, SecretStr | str] = Field(default_factory=dict, max_length=32)
    #: A zone at the provider that ``check()`` authenticates against; lexicon has no ping.
    check_domain: str | None = None

    @field_validator("provider_name")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        name = value.lower()
        known = available_providers()
        if not known:
            raise ValueError("dns-lexicon is not installed (pip install dns-lexicon)")
        if name not in known:
            raise ValueError("not a dns-lexicon provider")
        if not known[name]:
            raise ValueError(f"needs extra dependencies: pip install 'dns-lexicon[{name}]'")
        return name

    @field_validator("credentials")
    @classmethod
    def _secret_unless_public(cls, value: dict[str, SecretStr | str]
                              ) -> dict[str, SecretStr | str]:
        out: dict[str, SecretStr | str] = {}
        for key, item in value.items():
            if not _OPTION.fullmatch(key):
                raise ValueError("option names are lowercase words joined by '_'")
            text = item.get_secret_value() if isinstance(item, SecretStr) else item
            out[key] = text if key in PUBLIC_OPTIONS else SecretStr(text)
        return out

    @field_validator("check_domain")
    @classmethod
    def _zone_name(cls, value: str | None) -> str | None:
        try:
            return None if value is None else names.normalize(value, allow_wildcard=False)
        except InvalidName as exc:  # pydantic reports ValueError under the field's name
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _options_of_provider(self) -> LexiconConfig:
        options = provider_options(self.provider_name)
        unknown = sorted(set(self.credentials) - options)
        if unknown:
            raise ValueError(f"credentials: {', '.join(unknown)} not an option of lexicon "
                             f"provider {self.provider_name} (known: {', '.join(sorted(options))})")
        return self

    def options(self) -> dict[str, str]:
        """The provider options in the clear, for lexicon only."""
        return {key: value.get_secret_value() if isinstance(value, SecretStr) else value
                for key, value in self.credentials.items()}

    def secrets(self) -> list[str]:
        return [value.get_secret_value() for value in self.credentials.values()
                if isinstance(value, SecretStr) and value.get_secret_value()]


# -- running lexicon in a thread -------------------------------------------

_HTTP_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "dnsgate_lexicon_http_timeout", default=None)
_hook_lock = threading.Lock()
_hooked = False


def _install_timeout_hook() -> None:
    """Give ``requests`` calls made by our lexicon threads a timeout.

    Lexicon providers call ``requests`` without one, so a silent upstream
    would hold a worker thread forever after ``wait_for`` gave up on it. The
    hook only fills in a missing timeout, and only where ``_HTTP_TIMEOUT`` is
    set (our threads); everyone else's requests are untouched.
    """
    global _hooked
    with _hook_lock:
        if _hooked:
            return
        import requests

        original = requests.Session.request

        @functools.wraps(original)
        def request(self: Any, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            timeout = _HTTP_TIMEOUT.get()
            if timeout is not None and len(args) < 7 and kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return original(self, method, url, *args, **kwargs)

        setattr(requests.Session, "request", request)  # noqa: B010 (mypy: method assignment)
        _hooked = True


class _Call(Exception):
    """A lexicon call failed; carries what ``check()`` says and the audit detail."""

    def __init__(self, health: str, detail: str, *, timeout: bool = False,
                 status: int | None = None) -> None:
        super().__init__(health)
        self.health = health
        self.detail = detail
        self.timeout = timeout
        self.status = status

    def error(self) -> BackendUnavailable:
        cls = BackendTimeout if self.timeout else BackendUnavailable
        return cls(TIMED_OUT if self.timeout else FAILED, detail=self.detail)


def _classify(exc: BaseException, scrub: Callable[[str], str]) -> _Call:
    import requests

    text = scrub(f"{type(exc).__name__}: {exc}")[:_EXCERPT]
    if isinstance(exc, (TimeoutError, requests.exceptions.Timeout)):
        return _Call("no answer in time", text, timeout=True)
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        body = scrub(exc.response.text[:_EXCERPT])
        health = ("authentication failed" if status in (401, 403)
                  else "not found" if status == 404 else "unexpected answer")
        return _Call(f"{health} (HTTP {status})", f"{text}; body: {body}", status=status)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return _Call("cannot connect to the provider", text)
    if isinstance(exc, ValueError):  # includes requests' JSONDecodeError
        return _Call("unparseable answer from the provider", text)
    if type(exc).__name__ == "AuthenticationError":
        return _Call("authentication failed", text)
    return _Call(f"lexicon failed ({type(exc).__name__})", text)


# -- the adapter -------------------------------------------------------------


class LexiconBackend:
    """One lexicon provider with one set of options."""

    provider = "lexicon"

    def __init__(self, config: LexiconConfig) -> None:
        self.config = config
        self.dialect = dialect(config.provider_name)
        self.capabilities = Capabilities(
            list_zones=False, create_zones=False, atomic_batches=False, per_record_ttl=True,
            record_types=self.dialect.record_types)
        self._secrets = config.secrets()

    async def check(self) -> Health:
        zone = self.config.check_domain
        if zone is None:
            return Health.now(True, "configuration valid; credentials not tested "
                                    "(set check_domain to test them)")
        try:
            await self._run(lambda: self._session(zone, 3600))
        except _Call as failure:
            if failure.status == 404:
                return Health.now(False, f"check_domain {zone} not found at the provider "
                                         "(HTTP 404)")
            return Health.now(False, failure.health)
        return Health.now(True, f"authenticated to {self.config.provider_name} for {zone}")

    async def zones(self) -> list[str]:
        return []  # lexicon cannot list zones; they are added by name

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]:
        session = await self._open(zone, 3600)
        listed = await self._call(lambda: session.list_records(rtype, name))
        return to_rrsets(self._records(zone, listed), name, rtype)

    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        """Record by record; on a failure, undo what was done, then raise."""
        # Everything that can be refused is refused before the first call.
        provider = self.config.provider_name
        plans = [(change, wanted_contents(self.dialect, provider, zone, change.rrset)
                  if isinstance(change, Upsert) else {}) for change in changes]
        journal: list[Step] = []
        try:
            for change, wanted in plans:
                await self._apply_one(zone, change, wanted, journal)
        except DnsgateError as failure:
            problems = await self._undo(zone, journal)
            if problems and isinstance(failure, BackendUnavailable):
                failure.detail += f"; undo incomplete: {problems}"
            raise

    async def aclose(self) -> None:
        """Nothing to release: lexicon opens its HTTP sessions per call."""

    # -- one change ----------------------------------------------------------

    async def _apply_one(self, zone: str, change: Change, wanted: dict[str, str],
                         journal: list[Step]) -> None:
        name, rtype = change.key
        ttl = change.rrset.ttl if isinstance(change, Upsert) else 3600
        session = await self._open(zone, ttl)
        listed = await self._call(lambda: session.list_records(rtype, name))
        current = [rec for key, rec in self._records(zone, listed) if key == (name, rtype)]
        for step in change_steps(change, ttl, current, wanted):
            # Journal first: a call that failed midway may still have happened
            # (lexicon's create and delete are idempotent, so undoing it is safe).
            journal.append(step)
            await self._call(step.call(session))

    async def _undo(self, zone: str, journal: list[Step]) -> str:
        """Reverse the journal (best effort); what could not be undone, for the audit."""
        problems = []
        sessions: dict[int, Any] = {}  # lexicon takes the TTL of a create from its config
        for step in reversed(journal):
            try:
                if step.ttl not in sessions:
                    sessions[step.ttl] = await self._open(zone, step.ttl)
                await self._call(step.reverse().call(sessions[step.ttl]))
            except DnsgateError as exc:
                problems.append(f"{step.action} {step.name}/{step.rtype}: {type(exc).__name__}")
        journal.clear()
        if problems:
            log.warning("lexicon undo incomplete in %s: %s", zone, "; ".join(problems))
        return "; ".join(problems)

    def _records(self, zone: str, listed: Any) -> list[tuple[tuple[str, str], ListedRecord]]:
        if not isinstance(listed, list):
            raise BackendUnavailable(FAILED, detail="lexicon list_records returned no list")
        return [parsed for item in listed
                if (parsed := parse_record(self.dialect, zone, item)) is not None]

    # -- lexicon calls ------------------------------------------------------

    def _session(self, zone: str, ttl: int) -> Any:
        """A lexicon provider authenticated for ``zone`` (runs in the worker thread)."""
        from lexicon.config import ConfigResolver

        provider = self.config.provider_name
        resolver = ConfigResolver().with_dict({  # type: ignore[no-untyped-call]
            "provider_name": provider, "domain": zone, "ttl": ttl,
            provider: self.config.options()})
        session = _provider_class(provider)(resolver)
        session.authenticate()
        return session

    async def _open(self, zone: str, ttl: int) -> Any:
        try:
            return await self._run(lambda: self._session(zone, ttl))
        except _Call as failure:
            if failure.status in (404, 422):
                raise ZoneNotFound(f"zone {zone} is not at the provider") from None
            raise failure.error() from None

    async def _call(self, call: Callable[[], T]) -> T:
        try:
            return await self._run(call)
        except _Call as failure:
            raise failure.error() from None

    async def _run(self, call: Callable[[], T]) -> T:
        """``call`` in a worker thread within the timeout; failures as _Call."""
        _install_timeout_hook()
        timeout = self.config.timeout

        def in_thread() -> T:
            _HTTP_TIMEOUT.set(timeout)  # this thread's copy of the context only
            return call()

        try:
            return await asyncio.wait_for(asyncio.to_thread(in_thread), timeout)
        except Exception as exc:
            raise _classify(exc, self._scrub) from None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "**********")
        return text


def _open(config: LexiconConfig, *, egress: Egress | None = None) -> LexiconBackend:
    if egress is not None:
        # Each lexicon provider makes its own requests (``requests``, its own
        # URLs and redirects): nothing here could hold them to public addresses.
        raise EgressRefused(config.provider_name, field="provider_name", reason=(
            "lexicon providers cannot be limited to public addresses, so they are "
            "not open to accounts' own backends"))
    return LexiconBackend(config)


PROVIDER = Provider(
    name="lexicon",
    description="any provider dns-lexicon supports (record by record, not atomic)",
    config_model=LexiconConfig,
    capabilities=Capabilities(list_zones=False, create_zones=False, atomic_batches=False,
                              per_record_ttl=True, record_types=ALL_TYPES),
    open=_open,
)
