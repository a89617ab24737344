"""PowerDNS Authoritative, through its HTTP API (``/api/v1``).

A whole change set is ONE ``PATCH /zones/{zone}`` of rrsets with changetype
REPLACE or DELETE; PowerDNS applies such a PATCH in one backend transaction
(all or nothing), so batches are atomic. Reads ask for one name (and type)
with ``rrset_name``/``rrset_type`` (PowerDNS >= 4.7; older servers ignore
the parameters, so results are filtered here as well).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from pydantic import Field, SecretStr, field_validator

from dnsgate.backends import failures
from dnsgate.backends.base import (
    Capabilities,
    Health,
    Provider,
    ProviderConfig,
    ZoneDefaults,
    provider_url,
)
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    Conflict,
    DnsgateError,
    InvalidName,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import WRITABLE_TYPES, Change, RRset, Upsert, canonical_rdata
from dnsgate.security.egress import Egress

FAILED = "powerdns backend failed"
TIMED_OUT = "powerdns backend timed out"
#: Idempotent reads are retried this often on a connection failure or 502/503/504.
READ_RETRIES = 2
_BACKOFF = 0.2
_EXCERPT = 200
_RETRY_STATUS = frozenset({502, 503, 504})


class PowerDNSConfig(ProviderConfig):
    """Where the API is and the key that opens it."""

    #: Base URL of the PowerDNS webserver, e.g. ``http://127.0.0.1:8081`` (``/api/v1`` optional).
    api_url: str = Field(min_length=1, max_length=2000, description=(
        "Base URL of the PowerDNS webserver, e.g. http://127.0.0.1:8081."))
    api_key: SecretStr = Field(min_length=1, description="The webserver's API key (X-API-Key).")
    server_id: str = Field(default="localhost", pattern=r"^[A-Za-z0-9._-]+$", max_length=100)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = provider_url(value)
        return url[: -len("/api/v1")] if url.endswith("/api/v1") else url


class PowerDNSBackend:
    """One PowerDNS server (``server_id``) reached with one API key."""

    provider = "powerdns"
    capabilities = Capabilities(list_zones=True, create_zones=True, atomic_batches=True,
                                per_record_ttl=True, record_types=WRITABLE_TYPES,
                                blind_writes=True)

    def __init__(self, config: PowerDNSConfig, *,
                 trace_configs: Sequence[aiohttp.TraceConfig] = (),
                 egress: Egress | None = None) -> None:
        self.config = config
        self._egress = egress  # an account's own backend: connect only where it allows
        self._traces = list(trace_configs)  # tests use them to see what goes upstream
        self._client: aiohttp.ClientSession | None = None
        self._base = f"{config.api_url}/api/v1/servers/{quote(config.server_id, safe='')}"

    # -- the Backend protocol ------------------------------------------------

    async def check(self) -> Health:
        try:
            response = await self._request("GET", "", read=True, allow=(401, 403, 404))
        except BackendTimeout:
            return Health.now(False, f"no answer within {self.config.timeout:g}s",
                              failures.TIMED_OUT)
        except _Failure as exc:
            return Health.now(False, exc.health, exc.category)
        if response.status_code in (401, 403):
            return Health.now(False, f"authentication failed (HTTP {response.status_code})",
                              failures.AUTH_REFUSED)
        if response.status_code == 404:
            return Health.now(False, f"server id {self.config.server_id!r} not found (HTTP 404)",
                              failures.BAD_ANSWER)
        try:
            body = _json(response)
        except _Failure as exc:
            return Health.now(False, exc.health, exc.category)
        if not isinstance(body, dict) or "id" not in body:
            return Health.now(False, "unexpected answer from the API", failures.BAD_ANSWER)
        return Health.now(True, f"PowerDNS {body.get('version', '?')} reachable")

    async def zones(self) -> list[str]:
        body = _json(await self._request("GET", "/zones", read=True))
        if not isinstance(body, list):
            raise _unexpected("zone list is not a list")
        out = []
        for item in body:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                with contextlib.suppress(InvalidName):
                    out.append(names.normalize(item["name"], allow_wildcard=False))
        return sorted(out)

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]:
        params = {"rrsets": "true"}
        if name is not None:
            params["rrset_name"] = _fqdn(name)
            if rtype is not None:  # PowerDNS accepts rrset_type only with rrset_name
                params["rrset_type"] = rtype
        response = await self._request("GET", _zone_path(zone), read=True, params=params,
                                       allow=(404, 422))
        if response.status_code in (404, 422):
            raise ZoneNotFound(f"zone {zone} is not on the PowerDNS server")
        body = _json(response)
        if not isinstance(body, dict) or not isinstance(body.get("rrsets"), list):
            raise _unexpected("zone answer without rrsets")
        out = []
        for item in body["rrsets"]:
            rrset = _rrset(item)
            if rrset is None:
                continue
            if (name is None or rrset.name == name) and (rtype is None or rrset.type == rtype):
                out.append(rrset)
        return sorted(out, key=lambda rr: (rr.name, rr.type))

    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        """All changes in one PATCH: PowerDNS commits it whole or not at all."""
        if not changes:
            return
        rrsets: list[dict[str, Any]] = []
        for change in changes:
            if isinstance(change, Upsert):
                rr = change.rrset
                rrsets.append({
                    "name": _fqdn(rr.name), "type": rr.type, "ttl": rr.ttl,
                    "changetype": "REPLACE",
                    "records": [{"content": record, "disabled": False}
                                for record in rr.records]})
            else:
                rrsets.append({"name": _fqdn(change.name), "type": change.type,
                               "changetype": "DELETE"})
        response = await self._request("PATCH", _zone_path(zone), json={"rrsets": rrsets},
                                       allow=(404, 422))
        if response.status_code == 404:
            raise ZoneNotFound(f"zone {zone} is not on the PowerDNS server")
        if response.status_code == 422:
            # The change was refused as a whole (PowerDNS validated it before
            # committing anything): the records, not the provider, are at fault.
            raise InvalidRecord(f"PowerDNS refused the change: {_error_text(response)}")
        _expect_no_content(response)

    # -- zones (capability create_zones) -------------------------------------

    async def create_zone(self, zone: str, defaults: ZoneDefaults) -> None:
        """A Native zone with SOA and NS from ``defaults``."""
        fqdn = _fqdn(zone)
        nameservers = [_fqdn(ns) for ns in defaults.nameservers]
        soa = (f"{nameservers[0]} {_fqdn(defaults.hostmaster)} 1 10800 3600 604800 "
               f"{defaults.ttl}")
        response = await self._request("POST", "/zones", allow=(409, 422), json={
            "name": fqdn, "kind": "Native", "nameservers": nameservers,
            "rrsets": [{"name": fqdn, "type": "SOA", "ttl": defaults.ttl,
                        "changetype": "REPLACE",
                        "records": [{"content": soa, "disabled": False}]}]})
        if response.status_code == 409:
            raise Conflict(f"zone {zone} already exists on the PowerDNS server")
        if response.status_code == 422:
            raise InvalidRecord(f"PowerDNS refused the zone: {_error_text(response)}")
        _expect_no_content(response)

    async def delete_zone(self, zone: str) -> None:
        response = await self._request("DELETE", _zone_path(zone), allow=(404, 422))
        if response.status_code in (404, 422):
            raise ZoneNotFound(f"zone {zone} is not on the PowerDNS server")
        _expect_no_content(response)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- HTTP ------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop; reused for keep-alive.
        # aiohttp rather than httpx: ~0.8 ms less per call on loopback, which is
        # most of what dnsgate adds in front of PowerDNS (bench/pdns_bench.py).
        if self._client is None:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                headers={"X-API-Key": self.config.api_key.get_secret_value(),
                         "Accept": "application/json"},
                trace_configs=self._traces or None,
                connector=self._egress.connector() if self._egress else None)
        return self._client

    async def _request(self, method: str, path: str, *, read: bool = False,
                       allow: tuple[int, ...] = (), params: dict[str, str] | None = None,
                       json: Any = None) -> _Answer:
        """One API call; 2xx and the ``allow``ed statuses return, the rest raise.

        Reads are retried (at most READ_RETRIES times) when the connection
        failed or the server answered 502/503/504; writes never are.
        """
        url = self._base + path
        attempts = 1 + (READ_RETRIES if read else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._exchange(method, url, params, json)
            except TimeoutError:  # aiohttp's ServerTimeoutError is one too
                raise BackendTimeout(TIMED_OUT, detail=(
                    f"{method} {path or '/'}: no answer within {self.config.timeout:g}s"
                )) from None
            except aiohttp.ClientError as exc:
                if not last:
                    await asyncio.sleep(_BACKOFF * (attempt + 1))
                    continue
                raise _Failure("cannot connect to the API", f"{method} {path or '/'}: "
                               f"{type(exc).__name__}: {self._scrub(str(exc))}",
                               failures.categorize(exc)) from None
            if response.status_code in _RETRY_STATUS and not last:
                await asyncio.sleep(_BACKOFF * (attempt + 1))
                continue
            if response.is_success or response.status_code in allow:
                return response
            kind = ("authentication failed" if response.status_code in (401, 403)
                    else "unexpected answer")
            refused = response.status_code in (401, 403)
            raise _Failure(f"{kind} (HTTP {response.status_code})",
                           f"{method} {path or '/'}: HTTP {response.status_code}: "
                           f"{self._scrub(_excerpt(response))}",
                           failures.AUTH_REFUSED if refused else failures.BAD_ANSWER)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(self, method: str, url: str, params: dict[str, str] | None,
                        body: Any) -> _Answer:
        # No redirects: the API key goes to api_url only (and a redirect would
        # lead an account's own backend past the address it was checked for).
        async with self._http().request(method, url, params=params, json=body,
                                        allow_redirects=False) as response:
            return _Answer(response.status, await response.read())

    def _scrub(self, text: str) -> str:
        key = self.config.api_key.get_secret_value()
        return text.replace(key, "**********") if key else text


class _Failure(failures.ProviderFailure):
    """A failure with a one-line summary for ``check()`` (never a secret)."""

    def __init__(self, health: str, detail: str, category: str = failures.BAD_ANSWER) -> None:
        super().__init__(FAILED, detail=detail, category=category)
        self.health = health


@dataclass(frozen=True, slots=True)
class _Answer:
    """An HTTP answer, read whole (the API's answers are small)."""

    status_code: int
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        return json.loads(self.content)


def _json(response: _Answer) -> Any:
    try:
        return response.json()
    except ValueError:
        raise _Failure("unparseable answer from the API",
                       f"HTTP {response.status_code}, not JSON: {_excerpt(response)}") from None


def _expect_no_content(response: _Answer) -> None:
    """A write answers 204; anything else must at least be JSON, or we cannot
    tell whether the change was made."""
    if response.status_code != 204 and response.content.strip():
        _json(response)


def _unexpected(what: str) -> BackendUnavailable:
    return _Failure("unexpected answer from the API", what)


def _excerpt(response: _Answer) -> str:
    return response.content[:_EXCERPT].decode("utf-8", "replace")


def _error_text(response: _Answer) -> str:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return str(body["error"])[:_EXCERPT]
    return _excerpt(response)


def _fqdn(name: str) -> str:
    return name.rstrip(".") + "."


def _zone_path(zone: str) -> str:
    # A normalized name cannot contain '/' or '?'; normalizing again keeps it so.
    return "/zones/" + quote(_fqdn(names.normalize(zone, allow_wildcard=False)), safe="")


def _rrset(item: Any) -> RRset | None:
    """An RRset from the API's JSON; None when it has no enabled records or
    cannot be represented (a PowerDNS-only type such as ALIAS or LUA)."""
    if not isinstance(item, dict):
        raise _unexpected("rrset is not an object")
    try:
        name = names.normalize(str(item["name"]))
        rtype = str(item["type"]).upper()
        ttl = int(item["ttl"])
        records = [record["content"] for record in item.get("records", [])
                   if not record.get("disabled", False)]
    except (KeyError, TypeError, ValueError, InvalidName):
        return None
    if not records:
        return None
    try:
        canonical = tuple(dict.fromkeys(canonical_rdata(rtype, str(text)) for text in records))
    except DnsgateError:
        return None
    return RRset(name, rtype, ttl, canonical)


def _open(config: PowerDNSConfig, *, egress: Egress | None = None) -> PowerDNSBackend:
    if egress is not None:
        egress.require_literal(urlsplit(config.api_url).hostname, field="api_url")
    return PowerDNSBackend(config, egress=egress)


PROVIDER = Provider(
    name="powerdns",
    description="PowerDNS Authoritative through its HTTP API (atomic PATCH per change set)",
    config_model=PowerDNSConfig,
    capabilities=PowerDNSBackend.capabilities,
    open=_open,
)
