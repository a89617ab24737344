"""Cloudflare DNS, through API v4 with an API token.

Cloudflare keeps records, not RRsets: each record has an id, and an RRset is
the records sharing (name, type). Zones are addressed by id, looked up once by
name and cached. A change set becomes ONE ``POST dns_records/batch`` (deletes,
patches, posts), which Cloudflare executes in a single database transaction:
the first failing operation aborts the batch and nothing changes, so batches
are atomic. Records that stay are updated in place by id with PATCH, which
leaves their ``proxied`` flag, comment and tags as they were found.

Records are mapped to RRsets in :mod:`dnsgate.backends.cloudflare_records`.
Cloudflare serves SOA and the apex NS itself; they are not records of the
API, so ``read()`` does not return them.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field, SecretStr, field_validator

from dnsgate.backends import failures
from dnsgate.backends.base import Capabilities, Health, Provider, ProviderConfig, provider_url
from dnsgate.backends.cloudflare_records import (
    Json,
    change_batch,
    record_owner,
    to_rrsets,
)
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    Conflict,
    DnsgateError,
    InvalidInput,
    InvalidName,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import WRITABLE_TYPES, Change, RRset, Upsert
from dnsgate.security.egress import Egress

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
FAILED = "cloudflare backend failed"
TIMED_OUT = "cloudflare backend timed out"
#: Idempotent reads are retried this often on a connection failure or 502/503/504.
READ_RETRIES = 2
_BACKOFF = 0.2
_EXCERPT = 200
_RETRY_STATUS = frozenset({502, 503, 504})
_ZONES_PER_PAGE = 50  # Cloudflare's maximum for /zones
#: A change touching at most this many names reads them one by one, else the whole zone.
_PER_NAME_READS = 10
_MASK = "**********"
#: Error codes of a record Cloudflare refuses (1004 "DNS Validation Error" and its 9xxx chain).
_INVALID_CODES = frozenset({1004})
#: "record already exists" and the CNAME-sharing-a-name refusals.
_CONFLICT_CODES = frozenset({81053, 81054, 81057, 81058})
_STALE_ZONE_CODES = frozenset({7003})
#: Refusals of the credentials themselves (missing, malformed, unknown, not allowed).
_AUTH_CODES = frozenset({1000, 6003, 6103, 6111, 9106, 9109, 10000})
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class CloudflareConfig(ProviderConfig):
    """An API token (Zone:Read and DNS:Edit on the zones to manage)."""

    api_token: SecretStr = Field(min_length=1, max_length=200, description=(
        "An API token with Zone:Read and DNS:Edit."))
    #: The API base; tests point it at a simulator. Plain http only on loopback.
    api_url: str = Field(default=DEFAULT_API_URL, min_length=1, max_length=2000)
    #: Operations allowed in one batch: 200 on the Free plan, 3,500 on paid plans.
    max_batch: int = Field(default=200, ge=1, le=3500)

    @field_validator("api_token")
    @classmethod
    def _token_chars(cls, value: SecretStr) -> SecretStr:
        # The message never echoes the value.
        if not set(value.get_secret_value()) <= _TOKEN_CHARS:
            raise ValueError("must be a Cloudflare API token (letters, digits, '-', '_')")
        return value

    @field_validator("api_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        return provider_url(value, https_only=True)


class _Refused(failures.ProviderFailure):
    """Cloudflare answered with an error: its HTTP status and error codes."""

    def __init__(self, message: str, *, status: int, codes: frozenset[int], detail: str) -> None:
        refused = status in (401, 403) or bool(codes & _AUTH_CODES)
        super().__init__(message, detail=detail,
                         category=failures.AUTH_REFUSED if refused else failures.BAD_ANSWER)
        self.status = status
        self.codes = codes


class CloudflareBackend:
    """The zones one Cloudflare API token reaches."""

    provider = "cloudflare"
    capabilities = Capabilities(list_zones=True, create_zones=False, atomic_batches=True,
                                per_record_ttl=True, record_types=WRITABLE_TYPES)
    #: Records asked for per page (Cloudflare's default page size).
    records_per_page = 100

    def __init__(self, config: CloudflareConfig, *,
                 trace_configs: Sequence[aiohttp.TraceConfig] = (),
                 egress: Egress | None = None) -> None:
        self.config = config
        self._egress = egress  # an account's own backend: connect only where it allows
        self._traces = list(trace_configs)  # tests use them to see what goes upstream
        self._client: aiohttp.ClientSession | None = None
        self._zone_ids: dict[str, str] = {}

    def _http(self) -> aiohttp.ClientSession:
        # Created lazily: inside the running event loop, never at import or open
        # time; one session per adapter, so connections are kept alive.
        if self._client is None:
            token = self.config.api_token.get_secret_value()
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                         "User-Agent": "dnsgate"},
                json_serialize=_json_dumps, trace_configs=self._traces or None,
                connector=self._egress.connector() if self._egress else None)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- the Backend protocol -------------------------------------------------

    async def check(self) -> Health:
        """Verify the token (``GET /user/tokens/verify``); never raises."""
        try:
            payload = await self._request("GET", "/user/tokens/verify")
        except _Refused as exc:
            if exc.category == failures.AUTH_REFUSED:
                return Health.now(False, f"authentication failed (HTTP {exc.status})",
                                  failures.AUTH_REFUSED)
            return Health.now(False, f"cloudflare API refused the check (HTTP {exc.status})",
                              failures.BAD_ANSWER)
        except BackendTimeout:
            return Health.now(False, "cloudflare API timed out", failures.TIMED_OUT)
        except BackendUnavailable as exc:
            return Health.now(False, f"cloudflare API unavailable: {_reason(exc)}",
                              failures.categorize(exc))
        result = payload.get("result")
        status = result.get("status") if isinstance(result, dict) else None
        if status != "active":
            return Health.now(False, f"API token is not active (status {status!s})",
                              failures.AUTH_REFUSED)
        return Health.now(True, "API token is valid and active")

    async def zones(self) -> list[str]:
        """Every zone the token reaches (any status), sorted."""
        found: set[str] = set()
        for zone in await self._pages("/zones", {"per_page": _ZONES_PER_PAGE}):
            name = _zone_name(zone)
            if name is not None:
                found.add(name)
                self._zone_ids.setdefault(name, zone["id"])
        return sorted(found)

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]:
        _, records = await self._current(zone, None if name is None else [name], rtype)
        return to_rrsets(zone, records)

    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        """All changes in one atomic batch; records that stay are PATCHed by id."""
        final: dict[tuple[str, str], Change] = {}
        for change in changes:  # a later change to the same RRset wins
            final.pop(change.key, None)
            final[change.key] = change
            if isinstance(change, Upsert) and change.rrset.type not in WRITABLE_TYPES:
                raise InvalidRecord(f"cloudflare does not take {change.rrset.type} records here")
        if not final:
            return
        owners = sorted({name for name, _ in final})
        zone_id, current = await self._current(
            zone, owners if len(owners) <= _PER_NAME_READS else None)
        batch = change_batch(final, current)
        if batch.size == 0:
            return
        if batch.size > self.config.max_batch:
            raise InvalidInput(f"this change needs {batch.size} Cloudflare record operations; "
                               f"one atomic batch takes at most {self.config.max_batch}")
        await self._zone_call(zone, "POST", f"/zones/{zone_id}/dns_records/batch",
                              body=batch.body())

    # -- upstream calls -------------------------------------------------------------

    async def _zone_id(self, zone: str) -> str:
        """The id of ``zone``, asked for once and cached."""
        cached = self._zone_ids.get(zone)
        if cached is not None:
            return cached
        found = [z for z in await self._pages("/zones", {"name": zone,
                                                          "per_page": _ZONES_PER_PAGE})
                 if _zone_name(z) == zone]
        if not found:
            raise ZoneNotFound(f"zone {zone} is not reachable with this Cloudflare API token")
        found.sort(key=lambda z: z.get("status") != "active")  # an active zone first
        zone_id = str(found[0]["id"])  # _pages checked it is a string
        self._zone_ids[zone] = zone_id
        return zone_id

    async def _current(self, zone: str, owners: Sequence[str] | None,
                       rtype: str | None = None) -> tuple[str, list[Json]]:
        """The zone's id and its records (all, or those of ``owners``). A cached
        id that went stale (the zone was deleted and added again) is looked up
        once more."""
        for attempt in range(2):
            zone_id = await self._zone_id(zone)
            try:
                if owners is None:
                    return zone_id, await self._records(zone_id, rtype=rtype)
                records: list[Json] = []
                for owner in owners:
                    records += await self._records(zone_id, name=owner, rtype=rtype)
                return zone_id, records
            except _Refused as exc:
                self._forget_zone(zone, exc)
                if attempt or not exc.codes & _STALE_ZONE_CODES:
                    raise
        raise AssertionError("unreachable")

    async def _records(self, zone_id: str, *, name: str | None = None,
                       rtype: str | None = None) -> list[Json]:
        params: Json = {"per_page": self.records_per_page, "match": "all"}
        if name is not None:
            params["name.exact"] = name
        if rtype is not None:
            params["type"] = rtype
        found = await self._pages(f"/zones/{zone_id}/dns_records", params)
        # Filtered here as well, in case the upstream ignored a filter.
        return [r for r in found if (name is None or record_owner(r) == name)
                and (rtype is None or r.get("type") == rtype)]

    async def _zone_call(self, zone: str, method: str, path: str, *, body: Json) -> Json:
        try:
            return await self._request(method, path, body=body)
        except _Refused as exc:
            self._forget_zone(zone, exc)
            raise

    def _forget_zone(self, zone: str, exc: _Refused) -> None:
        # A deleted and re-added zone has a new id: ask again next time.
        if exc.status in (401, 403) or exc.codes & _STALE_ZONE_CODES:
            self._zone_ids.pop(zone, None)

    async def _pages(self, path: str, params: Json) -> list[Json]:
        """Every item of a paginated list: pages until ``total_pages`` or an empty page."""
        items: list[Json] = []
        seen: set[str] = set()
        page = 1
        while True:
            payload = await self._request("GET", path, params={**params, "page": page})
            result = payload.get("result")
            if not isinstance(result, list) or not all(
                    isinstance(i, dict) and isinstance(i.get("id"), str) for i in result):
                raise BackendUnavailable(FAILED, detail=f"GET {path}: not a list of objects "
                                                        "with ids")
            fresh = [i for i in result if i["id"] not in seen]
            if result and not fresh:  # an upstream that ignores ``page`` would loop forever
                raise BackendUnavailable(FAILED, detail=f"GET {path}: page {page} repeats")
            seen.update(i["id"] for i in fresh)
            items += fresh
            info = payload.get("result_info")
            total = info.get("total_pages") if isinstance(info, dict) else None
            if not result or (isinstance(total, int) and page >= total):
                return items
            page += 1

    async def _request(self, method: str, path: str, *, params: Json | None = None,
                       body: Json | None = None) -> Json:
        """One API call and its envelope; GETs are retried on transient failures."""
        attempts = 1 + (READ_RETRIES if method == "GET" else 0)
        failure: DnsgateError = BackendUnavailable(FAILED)
        for attempt in range(attempts):
            try:
                response = await self._exchange(method, path, params, body)
            except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
                # Not retried: a timeout has already used the caller's time.
                raise BackendTimeout(TIMED_OUT, detail=self._scrub(
                    f"{method} {path}: {type(exc).__name__}")) from None
            except aiohttp.ClientError as exc:
                # str() of aiohttp's errors names the URL at most, never the
                # request headers (repr() would); _scrub is the second guard.
                failure = failures.ProviderFailure(FAILED, detail=self._scrub(
                    f"{method} {path}: {type(exc).__name__}: {exc}"),
                    category=failures.categorize(exc))
            else:
                if response.status_code not in _RETRY_STATUS:
                    return self._envelope(method, path, response)
                failure = self._refused(method, path, response, None)
            if attempt + 1 < attempts:
                await asyncio.sleep(_BACKOFF * (attempt + 1))
        raise failure

    async def _exchange(self, method: str, path: str, params: Json | None,
                        body: Json | None) -> _Answer:
        """One HTTP exchange, its body read whole (the API's answers are small)
        within the session's timeout. Redirects are not followed: the token goes
        to ``api_url`` only."""
        async with self._http().request(method, self.config.api_url + path, params=params,
                                        json=body, allow_redirects=False) as response:
            return _Answer(response.status, await response.read(), response.charset)

    def _envelope(self, method: str, path: str, response: _Answer) -> Json:
        try:
            payload = response.json()
        except ValueError:  # not JSON, or not UTF-8
            payload = None
        if not isinstance(payload, dict):
            raise BackendUnavailable(FAILED, detail=self._scrub(
                f"{method} {path}: HTTP {response.status_code}: unparseable answer: "
                f"{response.text[:_EXCERPT]!r}"))
        if response.is_success and payload.get("success") is True:
            return payload
        raise self._refused(method, path, response, payload)

    def _refused(self, method: str, path: str, response: _Answer,
                 payload: Json | None) -> DnsgateError:
        """The error for an answer that is not a success: a record Cloudflare
        refuses is the caller's problem (InvalidRecord/Conflict), the rest is
        an upstream failure."""
        errors = _errors(payload)
        codes = frozenset(code for code, _ in errors)
        text = "; ".join(f"{code} {message}" for code, message in errors)
        if response.status_code == 400 and codes & _INVALID_CODES:
            return InvalidRecord(self._scrub(f"cloudflare refused the record: {text}"))
        if response.status_code == 400 and codes & _CONFLICT_CODES:
            return Conflict(self._scrub(f"cloudflare refused the change: {text}"))
        detail = self._scrub(f"{method} {path}: HTTP {response.status_code}: "
                             f"{text or repr(response.text[:_EXCERPT])}")
        return _Refused(FAILED, status=response.status_code, codes=codes, detail=detail)

    def _scrub(self, text: str) -> str:
        """Never let the token into a message or the audit log."""
        token = self.config.api_token.get_secret_value()
        return text.replace(token, _MASK) if token else text


@dataclass(frozen=True, slots=True)
class _Answer:
    """An HTTP answer as read: what ``_envelope`` and ``_refused`` look at."""

    status_code: int
    content: bytes
    charset: str | None = None

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        # The declared charset, else UTF-8; undecodable bytes are replaced.
        encoding = self.charset or "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = "utf-8"
        return self.content.decode(encoding, errors="replace")

    def json(self) -> object:
        return json.loads(self.content)


#: Request bodies as compact JSON (smaller batches); NaN is refused, it is not JSON.
_json_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"),
                                allow_nan=False)


def _errors(payload: Json | None) -> list[tuple[int, str]]:
    """(code, message) of each error and of each entry of its ``error_chain``."""
    out: list[tuple[int, str]] = []
    raw = payload.get("errors") if payload else None
    for error in raw if isinstance(raw, list) else []:
        if not isinstance(error, dict):
            continue
        chain = error.get("error_chain")
        for item in [error, *(chain if isinstance(chain, list) else [])]:
            if isinstance(item, dict) and isinstance(item.get("code"), int):
                out.append((item["code"], str(item.get("message", ""))[:_EXCERPT]))
    return out


def _reason(exc: BackendUnavailable) -> str:
    detail = exc.detail
    return detail.split(": ", 1)[1] if ": " in detail else (detail or exc.message)


def _zone_name(zone: Json) -> str | None:
    try:
        return names.normalize(str(zone.get("name")), allow_wildcard=False)
    except InvalidName:
        return None


def _open(config: CloudflareConfig, *, egress: Egress | None = None) -> CloudflareBackend:
    if egress is not None:
        egress.require_literal(urlsplit(config.api_url).hostname, field="api_url")
    return CloudflareBackend(config, egress=egress)


PROVIDER = Provider(
    name="cloudflare",
    description="Cloudflare DNS, through API v4 with an API token (atomic batches)",
    config_model=CloudflareConfig,
    capabilities=CloudflareBackend.capabilities,
    open=_open,
)
