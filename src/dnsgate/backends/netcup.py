"""netcup, through the CCP DNS API: one JSON endpoint, sessions, record ids.

Every call is ``POST {"action": ..., "param": {...}}`` to one endpoint and
answers HTTP 200 with ``status``/``statuscode`` (2000 = success). The
API speaks *records* with ids (``infoDnsRecords`` lists a zone's records;
``updateDnsRecords`` creates those without id, updates those with one,
deletes those with ``deleterecord: true``, leaves the rest alone, and answers
the zone's full record list); this adapter maps them to RRsets.

Session: ``login`` returns an ``apisessionid`` that every other call
carries. It is kept and reused; netcup ends it after about 15 minutes
without a call (often sooner), answering ``4001``, so a call that gets 4001
logs in again ONCE and is repeated (4001 means nothing was done). A session
idle for longer than ``session_idle`` is replaced before use.

Record cache: the last known record list of each zone, from
``infoDnsRecords`` or from an ``updateDnsRecords`` answer (which is the
whole zone after the update). ``apply()`` diffs the wanted RRsets against
it and sends only what changes -- a record already right keeps its id, a
record that goes away lends its id to one that comes (an update), the rest
are created or deleted -- so in steady state one change costs ONE call.
It calls ``infoDnsRecords`` only when the cached copy is missing or older
than ``cache_max_age``. A cached copy can be stale (the zone was edited in
netcup's web interface or by another client), and that is caught two ways:
an update naming a record id that is gone fails (``5028``), after which the
list is read again and the diff sent once more; and the update's answer is
checked against the change -- if the zone holds something else for a
changed RRset (a record added behind our back), one corrective update
computed from that answer follows. ``read()`` always asks netcup (it feeds
authorization decisions) and refreshes the cache. The records service
serializes writes to a zone; the adapter also holds a per-zone lock. A
failed or timed-out update drops the zone's cache, since it may have been
applied in part.

Batches are not atomic: netcup documents nothing about atomicity and its own
error text reads "Can not update (all) DNS records". A change set is still
sent as one update; ``atomic_batches=False`` makes the services send one
change at a time.

TTL: netcup has ONE TTL per zone (``infoDnsZone``), no per-record TTL, so
``per_record_ttl=False``: ``read()`` reports the zone's TTL on every RRset
(asking ``infoDnsZone`` at most once per ``cache_max_age``) and ``apply()``
ignores the TTL of an Upsert (it never changes the zone's).

Retries: ``login`` and the ``info*`` reads are retried twice with a short
backoff on a connection failure or HTTP 5xx; ``updateDnsRecords`` never is
(only the stale-cache and corrective updates above, each computed afresh
from what netcup answered).

HTTP: one ``aiohttp.ClientSession`` per adapter (keep-alive), created on first
use inside the running loop, each request bounded by ``config.timeout`` in
total, closed by ``aclose()`` after the logout.

Records are mapped to RRsets in :mod:`dnsgate.backends.netcup_records`.
netcup manages the apex NS records and does not list them (nor the SOA), so
``read()`` cannot include them. ``infoDnsRecords`` of a zone without records
is an error (``5029``), as it may be for an unknown zone; ``infoDnsZone``
tells them apart.

netcup cannot list zones through this API: the admin lists them (``zones``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field, SecretStr, field_validator

from dnsgate.backends import failures
from dnsgate.backends.base import Capabilities, Health, Provider, ProviderConfig, provider_url
from dnsgate.backends.netcup_records import (
    RECORD_TYPES,
    Wanted,
    diff,
    satisfied,
    to_rrsets,
    wanted_records,
)
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    InvalidName,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import Change, RRset
from dnsgate.security.egress import Egress

FAILED = "netcup backend failed"
TIMED_OUT = "netcup backend timed out"
DEFAULT_ENDPOINT = "https://ccp.netcup.net/run/webservice/servers/endpoint.php?JSON"
SESSION_INVALID = 4001
VALIDATION_ERROR = 4013
UPDATE_FAILED = 5028
NO_RECORDS = 5029
#: Idempotent calls are retried this often on a connection failure or HTTP 5xx.
READ_RETRIES = 2
_IDEMPOTENT = frozenset({"login", "infoDnsZone", "infoDnsRecords"})
_BACKOFF = 0.2
_EXCERPT = 200


class NetcupConfig(ProviderConfig):
    """The customer account, its API credentials, and the zones to manage."""

    customer_number: str = Field(pattern=r"^[0-9]{1,12}$")
    api_key: SecretStr = Field(min_length=1, max_length=500)
    api_password: SecretStr = Field(min_length=1, max_length=500)
    #: The JSON endpoint; plain http is accepted only on loopback (tests, local proxies).
    endpoint: str = Field(default=DEFAULT_ENDPOINT, min_length=1, max_length=2000)
    #: netcup's API cannot list zones, so the admin names the ones dnsgate manages.
    zones: tuple[str, ...] = Field(default=(), max_length=1000, description=(
        "netcup cannot list zones: name the ones dnsgate manages."))

    @field_validator("customer_number", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("endpoint")
    @classmethod
    def _https_url(cls, value: str) -> str:
        # The API password travels in the request body: https unless loopback.
        return provider_url(value, https_only=True, allow_query=True)

    @field_validator("zones")
    @classmethod
    def _zone_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(dict.fromkeys(names.normalize(z, allow_wildcard=False) for z in value))
        except InvalidName as exc:
            raise ValueError(f"invalid zone name: {exc.message}") from None


class _NetcupError(Exception):
    """netcup answered ``status: error`` (or anything but success)."""

    def __init__(self, action: str, code: int, short: str, long: str) -> None:
        super().__init__(f"{action}: netcup {code} {short} {long}")
        self.action, self.code, self.short, self.long = action, code, short, long


@dataclass
class _Cached:
    records: list[dict[str, Any]]
    at: float


@dataclass(frozen=True)
class _Answer:
    """An HTTP answer read in full (the connection goes back to the pool at once)."""

    status: int
    body: bytes
    charset: str | None

    @property
    def text(self) -> str:
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")


class NetcupBackend:
    """One netcup customer account (CCP API key and password)."""

    provider = "netcup"
    capabilities = Capabilities(list_zones=True, create_zones=False, record_types=RECORD_TYPES,
                                atomic_batches=False, per_record_ttl=False)

    def __init__(self, config: NetcupConfig, *,
                 trace_configs: Sequence[aiohttp.TraceConfig] = (),
                 cache_max_age: float = 300.0, session_idle: float = 14 * 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 egress: Egress | None = None) -> None:
        self.config = config
        self._egress = egress  # an account's own backend: connect only where it allows
        self._trace_configs = list(trace_configs)  # injected by tests to see what goes upstream
        self._cache_max_age = cache_max_age
        self._session_idle = session_idle
        self._clock = clock
        self._client: aiohttp.ClientSession | None = None
        self._session: str | None = None
        self._session_used = 0.0
        self._login_lock: asyncio.Lock | None = None
        self._zone_locks: dict[str, asyncio.Lock] = {}
        self._records: dict[str, _Cached] = {}
        self._ttls: dict[str, tuple[int, float]] = {}

    # -- the Backend protocol ----------------------------------------------

    async def check(self) -> Health:
        """Log in (a fresh session): proves the endpoint and the credentials."""
        try:
            await self._login(force=True)
        except _NetcupError as exc:
            return Health.now(False, self._redact(
                f"netcup login failed ({exc.code} {exc.short}): {exc.long} -- check the "
                "customer number, API key and API password"), failures.AUTH_REFUSED)
        except BackendTimeout:
            return Health.now(False, f"netcup API did not answer within {self.config.timeout:g} s",
                              failures.TIMED_OUT)
        except BackendUnavailable as exc:
            return Health.now(False, f"netcup API unreachable ({exc.detail})",
                              failures.categorize(exc))
        return Health.now(True, f"logged in to the netcup API as customer "
                                f"{self.config.customer_number}")

    async def zones(self) -> list[str]:
        return list(self.config.zones)

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]:
        try:
            records = await self._fetch(zone)
            ttl = await self._zone_ttl(zone)
        except _NetcupError as exc:
            raise self._unavailable(exc) from None
        return to_rrsets(zone, records, ttl, name, rtype)

    async def read_for_change(self, zone: str, name: str | None = None) -> list[RRset]:
        """What the records service plans a change against: the cached record
        list while it is fresh (it holds every change made through this
        adapter; an edit elsewhere is caught by ``apply()`` as described
        above), so that in steady state an update costs one call, not two."""
        cached = self._records.get(zone)
        if cached is None or self._clock() - cached.at >= self._cache_max_age:
            return await self.read(zone, name)
        try:
            ttl = await self._zone_ttl(zone)
        except _NetcupError as exc:
            raise self._unavailable(exc) from None
        return to_rrsets(zone, cached.records, ttl, name, None)


    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        if not changes:
            return
        wanted = wanted_records(zone, changes)
        async with self._zone_lock(zone):
            try:
                await self._apply_locked(zone, wanted)
            except _NetcupError as exc:
                raise self._unavailable(exc) from None

    async def aclose(self) -> None:
        """End the API session (best effort) and release the HTTP client."""
        if self._session is not None and self._client is not None:
            with contextlib.suppress(_NetcupError, BackendUnavailable):
                await self._request("logout", self._auth(self._session))
        self._session = None
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- records -------------------------------------------------------------

    async def _apply_locked(self, zone: str, wanted: Wanted) -> None:
        cached = self._records.get(zone)
        fresh = cached is not None and self._clock() - cached.at < self._cache_max_age
        records = cached.records if cached is not None and fresh else await self._fetch(zone)
        ops = diff(zone, records, wanted)
        if not ops:
            return
        try:
            records = await self._update(zone, ops)
        except _NetcupError as exc:
            if exc.code != UPDATE_FAILED:
                raise
            # A record we named is gone: our copy was stale. Read again, diff again, once.
            ops = diff(zone, await self._fetch(zone), wanted)
            if not ops:
                return
            records = await self._update(zone, ops)
        if satisfied(zone, records, wanted):
            return
        # The zone held more than our copy showed; the answer is the whole zone now.
        ops = diff(zone, records, wanted)
        if ops:
            records = await self._update(zone, ops)
        if not satisfied(zone, records, wanted):
            raise BackendUnavailable(FAILED, detail="updateDnsRecords: the zone does not hold "
                                     "the changed records after the update")

    async def _update(self, zone: str, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self._records.pop(zone, None)  # until the answer says what the zone holds now
        try:
            data = await self._call("updateDnsRecords", domainname=zone,
                                    dnsrecordset={"dnsrecords": ops})
        except _NetcupError as exc:
            if exc.code == VALIDATION_ERROR:
                message = self._redact(f"netcup refused the change: {exc.long}")
                raise InvalidRecord(message) from None
            raise
        records = _record_list(data, "updateDnsRecords")
        if records is None:  # no listing in the answer: ask for one
            return await self._fetch(zone)
        self._records[zone] = _Cached(records, self._clock())
        return records

    async def _fetch(self, zone: str) -> list[dict[str, Any]]:
        """The zone's records from netcup (and into the cache)."""
        try:
            data = await self._call("infoDnsRecords", domainname=zone)
        except _NetcupError as exc:
            if exc.code != NO_RECORDS:
                raise
            # 5029: a zone without records -- or perhaps no such zone. Ask for the zone.
            try:
                await self._zone_info(zone)
            except _NetcupError:
                raise ZoneNotFound(f"zone {zone} is not in this netcup account") from None
            data = {"dnsrecords": []}
        records = _record_list(data, "infoDnsRecords")
        if records is None:
            raise BackendUnavailable(FAILED, detail="infoDnsRecords: no record list in the answer")
        self._records[zone] = _Cached(records, self._clock())
        return records

    async def _zone_ttl(self, zone: str) -> int:
        known = self._ttls.get(zone)
        if known is not None and self._clock() - known[1] < self._cache_max_age:
            return known[0]
        return await self._zone_info(zone)

    async def _zone_info(self, zone: str) -> int:
        data = await self._call("infoDnsZone", domainname=zone)
        try:
            ttl = int(str(data["ttl"]))
        except (TypeError, KeyError, ValueError):
            raise BackendUnavailable(FAILED, detail="infoDnsZone: no ttl in the answer") from None
        self._ttls[zone] = (ttl, self._clock())
        return ttl

    # -- session and transport -------------------------------------------------

    async def _call(self, action: str, **params: Any) -> Any:
        """An action in the API session; on 4001 log in once more and repeat it."""
        session = await self._login()
        try:
            return await self._in_session(action, session, params)
        except _NetcupError as exc:
            if exc.code != SESSION_INVALID:
                raise
        if self._session == session:
            self._session = None
        session = await self._login()
        return await self._in_session(action, session, params)

    async def _in_session(self, action: str, session: str, params: dict[str, Any]) -> Any:
        try:
            return await self._request(action, {**params, **self._auth(session)})
        finally:
            self._session_used = self._clock()

    async def _login(self, *, force: bool = False) -> str:
        if self._login_lock is None:
            self._login_lock = asyncio.Lock()
        current = self._session
        if not force and current is not None and self._session_fresh():
            return current
        async with self._login_lock:
            if self._session is not None and self._session_fresh() and (
                    not force or self._session != current):
                return self._session
            data = await self._request("login", {
                "customernumber": self.config.customer_number,
                "apikey": self.config.api_key.get_secret_value(),
                "apipassword": self.config.api_password.get_secret_value()})
            session = data.get("apisessionid") if isinstance(data, dict) else None
            if not isinstance(session, str) or not session:
                raise BackendUnavailable(FAILED, detail="login: no apisessionid in the answer")
            self._session, self._session_used = session, self._clock()
            return session

    def _session_fresh(self) -> bool:
        return self._clock() - self._session_used < self._session_idle

    def _auth(self, session: str) -> dict[str, str]:
        return {"customernumber": self.config.customer_number,
                "apikey": self.config.api_key.get_secret_value(), "apisessionid": session}

    async def _request(self, action: str, param: dict[str, Any]) -> Any:
        """One POST; the ``responsedata`` of a success, else _NetcupError or Backend*."""
        client = self._http()
        attempts = 1 + (READ_RETRIES if action in _IDEMPOTENT else 0)
        failure, category = "", failures.BAD_ANSWER
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_BACKOFF * attempt)
            try:
                # No redirects: the credentials go to the endpoint only.
                async with client.post(self.config.endpoint, allow_redirects=False,
                                       json={"action": action, "param": param}) as response:
                    answer = _Answer(response.status, await response.read(),
                                     response.charset)
            # TimeoutError first: aiohttp.ServerTimeoutError is also a ClientError
            # (asyncio.TimeoutError is TimeoutError since Python 3.11).
            except TimeoutError:
                raise BackendTimeout(TIMED_OUT, detail=f"{action}: no answer within "
                                     f"{self.config.timeout:g} s") from None
            except (aiohttp.ClientError, OSError) as exc:
                # Connection refused/reset, server disconnected, broken payload or
                # HTTP framing; the text names the URL, never the request body.
                failure = f"{action}: {type(exc).__name__} {exc}"
                category = failures.categorize(exc)
                continue
            if answer.status >= 500:
                failure = f"{action}: HTTP {answer.status}: {answer.text[:_EXCERPT]}"
                category = failures.BAD_ANSWER
                continue
            return self._answer(action, answer)
        raise failures.ProviderFailure(FAILED, detail=self._redact(failure), category=category)

    def _answer(self, action: str, answer: _Answer) -> Any:
        if answer.status != 200:
            raise BackendUnavailable(FAILED, detail=self._redact(
                f"{action}: HTTP {answer.status}: {answer.text[:_EXCERPT]}"))
        try:
            # Parsed whatever the Content-Type says (netcup's is not always JSON's).
            message = json.loads(answer.body)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            message = None
        if not isinstance(message, dict) or "status" not in message:
            raise BackendUnavailable(FAILED, detail=self._redact(
                f"{action}: unparseable answer: {answer.text[:_EXCERPT]!r}"))
        if message.get("status") == "success":
            return message.get("responsedata")
        code = str(message.get("statuscode"))
        raise _NetcupError(action, int(code) if code.isdigit() else 0,
                           str(message.get("shortmessage") or ""),
                           str(message.get("longmessage") or message.get("status")))

    def _http(self) -> aiohttp.ClientSession:
        # Created here, inside the running loop (aiohttp binds a session to it).
        # No environment proxies (like every adapter): trust_env would cost a
        # thread hop per request and read ~/.netrc.
        if self._client is None:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                headers={"Accept": "application/json"},
                trace_configs=self._trace_configs or None,
                connector=self._egress.connector() if self._egress else None)
        return self._client

    def _zone_lock(self, zone: str) -> asyncio.Lock:
        return self._zone_locks.setdefault(zone, asyncio.Lock())

    def _unavailable(self, exc: _NetcupError) -> BackendUnavailable:
        return failures.ProviderFailure(FAILED, detail=self._redact(
            f"{exc.action}: netcup {exc.code} {exc.short}: {exc.long}"[:2 * _EXCERPT]),
            category=failures.AUTH_REFUSED if exc.action == "login" else failures.BAD_ANSWER)

    def _redact(self, text: str) -> str:
        for secret in (self.config.api_key.get_secret_value(),
                       self.config.api_password.get_secret_value(), self._session or ""):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


def _record_list(data: Any, action: str) -> list[dict[str, Any]] | None:
    if not isinstance(data, dict) or "dnsrecords" not in data:
        return None
    records = data["dnsrecords"]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BackendUnavailable(FAILED, detail=f"{action}: malformed record list")
    return records


def _open(config: Any, *, egress: Egress | None = None) -> NetcupBackend:
    if egress is not None:
        egress.require_literal(urlsplit(config.endpoint).hostname, field="endpoint")
    return NetcupBackend(config, egress=egress)


PROVIDER = Provider(
    name="netcup", description="netcup CCP DNS API (customer number, API key and password)",
    config_model=NetcupConfig, capabilities=NetcupBackend.capabilities, open=_open)
