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

Mapping: ``hostname`` is relative to the zone (``@`` for the apex); names
in a destination are fully qualified (netcup accepts them with or without
the trailing dot; they are sent without it, like other clients do). MX
carries its preference in ``priority``; an SRV destination holds all four
fields. A TXT destination is the text netcup puts between the quotes it
adds itself, with ``\\"``, ``\\\\`` and ``\\DDD`` escapes; netcup splits it
into 255-octet strings, so a TXT record split elsewhere cannot be stored
(InvalidRecord rather than a silent change). netcup manages the apex NS
records and does not list them (nor the SOA), so ``read()`` cannot include
them. ``infoDnsRecords`` of a zone without records is an error (``5029``),
as it may be for an unknown zone; ``infoDnsZone`` tells them apart.

netcup cannot list zones through this API: the admin lists them (``zones``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import httpx
from dns.rdtypes.ANY.TXT import TXT
from pydantic import Field, SecretStr, field_validator

from dnsgate.backends.base import Capabilities, Health, Provider, ProviderConfig, provider_url
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    InvalidName,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import WRITABLE_TYPES, Change, RRset, Upsert, canonical_rdata

log = logging.getLogger(__name__)

FAILED = "netcup backend failed"
TIMED_OUT = "netcup backend timed out"
DEFAULT_ENDPOINT = "https://ccp.netcup.net/run/webservice/servers/endpoint.php?JSON"
#: Record types netcup's DNS API knows.
NETCUP_TYPES = frozenset({"A", "AAAA", "MX", "CNAME", "CAA", "SRV", "TXT", "TLSA", "NS", "DS",
                          "SSHFP", "OPENPGPKEY", "SMIMEA"})
RECORD_TYPES = NETCUP_TYPES & WRITABLE_TYPES
SESSION_INVALID = 4001
VALIDATION_ERROR = 4013
UPDATE_FAILED = 5028
NO_RECORDS = 5029
#: Idempotent calls are retried this often on a connection failure or HTTP 5xx.
READ_RETRIES = 2
_IDEMPOTENT = frozenset({"login", "infoDnsZone", "infoDnsRecords"})
_BACKOFF = 0.2
_EXCERPT = 200
_TXT_CHUNK = 255

Key = tuple[str, str]
Wanted = dict[Key, list[tuple[str, dict[str, str]]] | None]


class NetcupConfig(ProviderConfig):
    """The customer account, its API credentials, and the zones to manage."""

    customer_number: str = Field(pattern=r"^[0-9]{1,12}$")
    api_key: SecretStr = Field(min_length=1, max_length=500)
    api_password: SecretStr = Field(min_length=1, max_length=500)
    #: The JSON endpoint; plain http is accepted only on loopback (tests, local proxies).
    endpoint: str = Field(default=DEFAULT_ENDPOINT, min_length=1, max_length=2000)
    #: netcup's API cannot list zones, so the admin names the ones dnsgate manages.
    zones: tuple[str, ...] = Field(default=(), max_length=1000)

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


class NetcupBackend:
    """One netcup customer account (CCP API key and password)."""

    provider = "netcup"
    capabilities = Capabilities(list_zones=True, create_zones=False, record_types=RECORD_TYPES,
                                atomic_batches=False, per_record_ttl=False)

    def __init__(self, config: NetcupConfig, *, transport: httpx.AsyncBaseTransport | None = None,
                 cache_max_age: float = 300.0, session_idle: float = 14 * 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._transport = transport  # injected by tests to see what goes upstream
        self._cache_max_age = cache_max_age
        self._session_idle = session_idle
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
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
                "customer number, API key and API password"))
        except BackendTimeout:
            return Health.now(False, f"netcup API did not answer within {self.config.timeout:g} s")
        except BackendUnavailable as exc:
            return Health.now(False, f"netcup API unreachable ({exc.detail})")
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
        return _rrsets(zone, records, ttl, name, rtype)

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
        return _rrsets(zone, cached.records, ttl, name, None)


    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        if not changes:
            return
        wanted = _wanted(zone, changes)
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
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- records -------------------------------------------------------------

    async def _apply_locked(self, zone: str, wanted: Wanted) -> None:
        cached = self._records.get(zone)
        fresh = cached is not None and self._clock() - cached.at < self._cache_max_age
        records = cached.records if cached is not None and fresh else await self._fetch(zone)
        ops = _diff(zone, records, wanted)
        if not ops:
            return
        try:
            records = await self._update(zone, ops)
        except _NetcupError as exc:
            if exc.code != UPDATE_FAILED:
                raise
            # A record we named is gone: our copy was stale. Read again, diff again, once.
            ops = _diff(zone, await self._fetch(zone), wanted)
            if not ops:
                return
            records = await self._update(zone, ops)
        if _satisfied(zone, records, wanted):
            return
        # The zone held more than our copy showed; the answer is the whole zone now.
        ops = _diff(zone, records, wanted)
        if ops:
            records = await self._update(zone, ops)
        if not _satisfied(zone, records, wanted):
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
        failure = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_BACKOFF * attempt)
            try:
                response = await client.post(self.config.endpoint,
                                             json={"action": action, "param": param})
            except httpx.TimeoutException:
                raise BackendTimeout(TIMED_OUT, detail=f"{action}: no answer within "
                                     f"{self.config.timeout:g} s") from None
            except httpx.HTTPError as exc:
                failure = f"{action}: {type(exc).__name__} {exc}"
                continue
            if response.status_code >= 500:
                failure = f"{action}: HTTP {response.status_code}: {response.text[:_EXCERPT]}"
                continue
            return self._answer(action, response)
        raise BackendUnavailable(FAILED, detail=self._redact(failure))

    def _answer(self, action: str, response: httpx.Response) -> Any:
        if response.status_code != 200:
            raise BackendUnavailable(FAILED, detail=self._redact(
                f"{action}: HTTP {response.status_code}: {response.text[:_EXCERPT]}"))
        try:
            message = response.json()
        except ValueError:
            message = None
        if not isinstance(message, dict) or "status" not in message:
            raise BackendUnavailable(FAILED, detail=self._redact(
                f"{action}: unparseable answer: {response.text[:_EXCERPT]!r}"))
        if message.get("status") == "success":
            return message.get("responsedata")
        code = str(message.get("statuscode"))
        raise _NetcupError(action, int(code) if code.isdigit() else 0,
                           str(message.get("shortmessage") or ""),
                           str(message.get("longmessage") or message.get("status")))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout,
                                             transport=self._transport,
                                             headers={"Accept": "application/json"})
        return self._client

    def _zone_lock(self, zone: str) -> asyncio.Lock:
        return self._zone_locks.setdefault(zone, asyncio.Lock())

    def _unavailable(self, exc: _NetcupError) -> BackendUnavailable:
        return BackendUnavailable(FAILED, detail=self._redact(
            f"{exc.action}: netcup {exc.code} {exc.short}: {exc.long}"[:2 * _EXCERPT]))

    def _redact(self, text: str) -> str:
        for secret in (self.config.api_key.get_secret_value(),
                       self.config.api_password.get_secret_value(), self._session or ""):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


# -- records <-> RRsets ---------------------------------------------------------

def _record_list(data: Any, action: str) -> list[dict[str, Any]] | None:
    if not isinstance(data, dict) or "dnsrecords" not in data:
        return None
    records = data["dnsrecords"]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BackendUnavailable(FAILED, detail=f"{action}: malformed record list")
    return records


def _owner(zone: str, hostname: str) -> str | None:
    hostname = hostname.strip()
    if hostname in ("@", ""):
        return zone
    try:
        return names.normalize(f"{hostname}.{zone}")
    except InvalidName:
        return None


def _key(zone: str, rec: dict[str, Any]) -> Key | None:
    """(owner, type) of a netcup record, or None if its hostname is unreadable."""
    owner = _owner(zone, str(rec.get("hostname") or ""))
    rtype = str(rec.get("type") or "").upper()
    return (owner, rtype) if owner is not None and rtype else None


def _rdata(zone: str, rec: dict[str, Any]) -> str | None:
    """The canonical rdata of a netcup record, or None if it cannot be read."""
    rtype = str(rec.get("type") or "").upper()
    dest = str(rec.get("destination") or "").strip()
    try:
        if rtype == "MX":
            text = f"{rec.get('priority') or 0} {_absolute(zone, dest)}"
        elif rtype in ("CNAME", "NS"):
            text = _absolute(zone, dest)
        elif rtype == "SRV":
            parts = dest.split()
            if len(parts) == 3:  # weight port target, with the priority in its own field
                parts = [str(rec.get("priority") or 0), *parts]
            text = " ".join([*parts[:-1], _absolute(zone, parts[-1])]) if parts else ""
        elif rtype == "TXT":
            text = _txt_rdata(dest)
        else:
            text = dest
        return canonical_rdata(rtype, text)
    except (InvalidRecord, dns.exception.DNSException, ValueError):
        return None


def _wanted(zone: str, changes: Sequence[Change]) -> Wanted:
    """Per (owner, type): the wanted records with their netcup fields, or None to delete."""
    wanted: Wanted = {}
    for change in changes:
        if not isinstance(change, Upsert):
            wanted[change.key] = None
            continue
        rr = change.rrset
        if rr.type not in RECORD_TYPES:
            raise InvalidRecord(f"netcup does not support {rr.type} records")
        if not names.is_at_or_below(rr.name, zone):
            raise InvalidRecord(f"{rr.name} is not in zone {zone}")
        if rr.type == "NS" and rr.name == zone:
            raise InvalidRecord("netcup manages the NS records at the zone apex")
        hostname = "@" if rr.name == zone else rr.name[: -len(zone) - 1]
        wanted[change.key] = [(rdata, _fields(hostname, rr.type, rdata))
                              for rdata in (canonical_rdata(rr.type, r) for r in rr.records)]
    return wanted


def _fields(hostname: str, rtype: str, rdata: str) -> dict[str, str]:
    """netcup's hostname/type/priority/destination for one canonical record."""
    fields = {"hostname": hostname, "type": rtype}
    if rtype == "MX":
        preference, exchange = rdata.split(" ", 1)
        return {**fields, "priority": preference, "destination": _bare(exchange)}
    if rtype in ("CNAME", "NS"):
        return {**fields, "destination": _bare(rdata)}
    if rtype == "SRV":
        *numbers, target = rdata.split()
        return {**fields, "destination": " ".join([*numbers, _bare(target)])}
    if rtype == "TXT":
        destination = _txt_destination(rdata)
        if not destination:
            raise InvalidRecord("netcup cannot store an empty TXT record")
        if _txt_rdata(destination) != rdata:
            raise InvalidRecord("netcup stores a TXT record as one text that it splits into "
                                "255-octet strings; this record is split elsewhere")
        return {**fields, "destination": destination}
    return {**fields, "destination": rdata}


def _diff(zone: str, records: Iterable[dict[str, Any]], wanted: Wanted) -> list[dict[str, Any]]:
    """The records to send so that each wanted RRset is exactly as wanted."""
    current: dict[Key, list[tuple[dict[str, Any], str | None]]] = {}
    for rec in records:
        key = _key(zone, rec)
        if key is not None and key in wanted:
            current.setdefault(key, []).append((rec, _rdata(zone, rec)))
    ops: list[dict[str, Any]] = []
    for key, desired in wanted.items():
        remaining = current.get(key, [])
        creates: list[dict[str, str]] = []
        for rdata, fields in desired or ():
            match = next((i for i, (_, have) in enumerate(remaining) if have == rdata), None)
            if match is None:
                creates.append(fields)
            else:
                remaining.pop(match)  # already right: not sent, keeps its id
        for fields in creates:  # a record that goes lends its id to one that comes
            if remaining:
                rec, _ = remaining.pop(0)
                ops.append({"id": str(rec.get("id")), **fields, "deleterecord": False})
            else:
                ops.append({**fields, "deleterecord": False})
        ops.extend({"id": str(rec.get("id")), "hostname": rec.get("hostname"),
                    "type": rec.get("type"), "priority": str(rec.get("priority") or "0"),
                    "destination": rec.get("destination"), "deleterecord": True}
                   for rec, _ in remaining)
    return ops


def _satisfied(zone: str, records: Iterable[dict[str, Any]], wanted: Wanted) -> bool:
    have: dict[Key, set[str | None]] = {}
    for rec in records:
        key = _key(zone, rec)
        if key is not None and key in wanted:
            have.setdefault(key, set()).add(_rdata(zone, rec))
    return all(have.get(key, set()) == {rdata for rdata, _ in desired or ()}
               for key, desired in wanted.items())


def _absolute(zone: str, name: str) -> str:
    if name == "@":
        return f"{zone}."
    return name if name.endswith(".") else f"{name}."


def _bare(name: str) -> str:
    return name[:-1] if name.endswith(".") and name != "." else name


def _txt_destination(rdata: str) -> str:
    """The text between netcup's quotes: the record's strings joined, escapes kept."""
    tokenizer = dns.tokenizer.Tokenizer(rdata)
    parts = []
    while not (token := tokenizer.get()).is_eol_or_eof():
        parts.append(token.value)
    return "".join(parts)


def _txt_rdata(destination: str) -> str:
    """What netcup serves for a TXT destination: 255-octet strings, canonical."""
    tokenizer = dns.tokenizer.Tokenizer(f'"{destination}"')
    data = tokenizer.get().unescape_to_bytes().value
    if not tokenizer.get().is_eol_or_eof():
        raise ValueError("unbalanced quotes in a TXT destination")
    chunks = [data[i:i + _TXT_CHUNK] for i in range(0, len(data), _TXT_CHUNK)] or [b""]
    text = TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks).to_text()
    return canonical_rdata("TXT", text)


def _open(config: Any) -> NetcupBackend:
    return NetcupBackend(config)


PROVIDER = Provider(
    name="netcup", description="netcup CCP DNS API (customer number, API key and password)",
    config_model=NetcupConfig, capabilities=NetcupBackend.capabilities, open=_open)


def _rrsets(zone: str, records: list[dict[str, Any]], ttl: int, name: str | None,
           rtype: str | None) -> list[RRset]:
    """netcup records grouped into RRsets, optionally of one name and/or type."""
    grouped: dict[Key, list[str]] = {}
    for rec in records:
        key = _key(zone, rec)
        rdata = _rdata(zone, rec) if key is not None else None
        if key is None or rdata is None:
            log.warning("netcup zone %s: skipping a record dnsgate cannot read (id %s)",
                        zone, rec.get("id"))
            continue
        if (name is None or key[0] == name) and (rtype is None or key[1] == rtype):
            grouped.setdefault(key, [])
            if rdata not in grouped[key]:
                grouped[key].append(rdata)
    return [RRset(owner, kind, ttl, tuple(sorted(rdatas)))
            for (owner, kind), rdatas in sorted(grouped.items())]
