"""Cloudflare DNS, through API v4 with an API token.

Cloudflare keeps records, not RRsets: each record has an id, and an RRset is
the records sharing (name, type). Zones are addressed by id, looked up once by
name and cached. A change set becomes ONE ``POST dns_records/batch`` (deletes,
patches, posts), which Cloudflare executes in a single database transaction:
the first failing operation aborts the batch and nothing changes, so batches
are atomic. Records that stay are updated in place by id with PATCH, which
leaves their ``proxied`` flag, comment and tags as they were found.

Mapping: owner names are full names without the trailing dot (as Cloudflare
stores them); names inside rdata lose their trailing dot on the way up and get
it back on the way down. MX keeps its preference in ``priority``; SRV, CAA, DS,
SSHFP, TLSA, NAPTR, HTTPS and SVCB travel as Cloudflare's ``data`` components.
TXT ``content`` is written as quoted RFC 1035 character-strings (each at most
255 octets), which Cloudflare serves as written; unquoted content found
upstream is read as one string, split at 255 octets, as Cloudflare serves it.

Cloudflare's TTL 1 means "automatic" (300 s today); it is read as 300
(``AUTO_TTL``). Proxied records always report TTL 1 and are served with
Cloudflare's addresses: dnsgate reads and writes their origin content.
Cloudflare serves SOA and the apex NS itself; they are not records of the
API, so ``read()`` does not return them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import httpx
from pydantic import Field, SecretStr, field_validator

from dnsgate.backends.base import Capabilities, Health, Provider, ProviderConfig, provider_url
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
from dnsgate.domain.records import WRITABLE_TYPES, Change, Delete, RRset, Upsert, canonical_rdata

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
FAILED = "cloudflare backend failed"
TIMED_OUT = "cloudflare backend timed out"
#: What Cloudflare's "automatic" TTL (``ttl: 1``) is reported as.
AUTO_TTL = 300
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
_PROXIABLE = frozenset({"A", "AAAA", "CNAME"})
_HOST_CONTENT = frozenset({"CNAME", "NS", "PTR"})
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

Json = dict[str, Any]


class CloudflareConfig(ProviderConfig):
    """An API token (Zone:Read and DNS:Edit on the zones to manage)."""

    api_token: SecretStr = Field(min_length=1, max_length=200)
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


class _Refused(BackendUnavailable):
    """Cloudflare answered with an error: its HTTP status and error codes."""

    def __init__(self, message: str, *, status: int, codes: frozenset[int], detail: str) -> None:
        super().__init__(message, detail=detail)
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
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._transport = transport  # injected by tests to see what goes upstream
        self._client: httpx.AsyncClient | None = None
        self._zone_ids: dict[str, str] = {}

    def _http(self) -> httpx.AsyncClient:
        # Created lazily: inside the running event loop, never at import or open time.
        if self._client is None:
            token = self.config.api_token.get_secret_value()
            self._client = httpx.AsyncClient(
                base_url=self.config.api_url, timeout=self.config.timeout,
                transport=self._transport,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                         "User-Agent": "dnsgate"})
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- the Backend protocol -------------------------------------------------

    async def check(self) -> Health:
        """Verify the token (``GET /user/tokens/verify``); never raises."""
        try:
            payload = await self._request("GET", "/user/tokens/verify")
        except _Refused as exc:
            if exc.status in (401, 403) or exc.codes & _AUTH_CODES:
                return Health.now(False, f"authentication failed (HTTP {exc.status})")
            return Health.now(False, f"cloudflare API refused the check (HTTP {exc.status})")
        except BackendTimeout:
            return Health.now(False, "cloudflare API timed out")
        except BackendUnavailable as exc:
            return Health.now(False, f"cloudflare API unavailable: {_reason(exc)}")
        result = payload.get("result")
        status = result.get("status") if isinstance(result, dict) else None
        if status != "active":
            return Health.now(False, f"API token is not active (status {status!s})")
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
        return _rrsets(zone, records)

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
        by_key: dict[tuple[str, str], list[Json]] = {}
        for record in current:
            key = _key(record)
            if key is not None:
                by_key.setdefault(key, []).append(record)
        batch = _Batch()
        for key, change in final.items():
            existing = by_key.get(key, [])
            if isinstance(change, Delete):
                batch.deletes += [{"id": r["id"]} for r in existing]
            else:
                batch.replace(change.rrset, existing)
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
        return [r for r in found if (name is None or _owner(r) == name)
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
        client = self._http()
        attempts = 1 + (READ_RETRIES if method == "GET" else 0)
        failure: DnsgateError = BackendUnavailable(FAILED)
        for attempt in range(attempts):
            try:
                response = await client.request(method, path, params=params, json=body)
            except httpx.TimeoutException as exc:
                # Not retried: a timeout has already used the caller's time.
                raise BackendTimeout(TIMED_OUT, detail=self._scrub(
                    f"{method} {path}: {type(exc).__name__}")) from None
            except httpx.HTTPError as exc:
                failure = BackendUnavailable(FAILED, detail=self._scrub(
                    f"{method} {path}: {type(exc).__name__}: {exc}"))
            else:
                if response.status_code not in _RETRY_STATUS:
                    return self._envelope(method, path, response)
                failure = self._refused(method, path, response, None)
            if attempt + 1 < attempts:
                await asyncio.sleep(_BACKOFF * (attempt + 1))
        raise failure

    def _envelope(self, method: str, path: str, response: httpx.Response) -> Json:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise BackendUnavailable(FAILED, detail=self._scrub(
                f"{method} {path}: HTTP {response.status_code}: unparseable answer: "
                f"{response.text[:_EXCERPT]!r}"))
        if response.is_success and payload.get("success") is True:
            return payload
        raise self._refused(method, path, response, payload)

    def _refused(self, method: str, path: str, response: httpx.Response,
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


class _Batch:
    """The operations of one ``POST dns_records/batch``."""

    def __init__(self) -> None:
        self.deletes: list[Json] = []
        self.patches: list[Json] = []
        self.posts: list[Json] = []

    @property
    def size(self) -> int:
        return len(self.deletes) + len(self.patches) + len(self.posts)

    def body(self) -> Json:
        return {key: ops for key, ops in (("deletes", self.deletes), ("patches", self.patches),
                                          ("posts", self.posts)) if ops}

    def replace(self, rrset: RRset, existing: list[Json]) -> None:
        """Make the records of ``existing`` hold ``rrset``, reusing records (and
        their proxied flag, comment, tags) wherever one can be kept or patched."""
        kept: set[str] = set()
        missing: list[str] = []
        for text in rrset.records:
            hit = next((r for r in existing if r["id"] not in kept and _canonical(r) == text),
                       None)
            if hit is None:
                missing.append(text)
                continue
            kept.add(hit["id"])
            if not hit.get("proxied") and hit.get("ttl") != rrset.ttl:
                self.patches.append({"id": hit["id"], "ttl": rrset.ttl})
        stale = [r for r in existing if r["id"] not in kept]
        for record, text in zip(stale, missing, strict=False):
            patch = {"id": record["id"], **_fields(rrset.type, text)}
            if not record.get("proxied"):  # proxied records keep Cloudflare's automatic TTL
                patch["ttl"] = rrset.ttl
            self.patches.append(patch)
        self.deletes += [{"id": r["id"]} for r in stale[len(missing):]]
        proxied = (rrset.type in _PROXIABLE and bool(existing)
                   and all(r.get("proxied") for r in existing))
        for text in missing[len(stale):]:
            post = {"name": rrset.name, "type": rrset.type, "ttl": rrset.ttl,
                    **_fields(rrset.type, text)}
            if proxied:  # a record joining a proxied RRset is proxied like the others
                post["proxied"] = True
            self.posts.append(post)


# -- mapping records ------------------------------------------------------------------


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


def _owner(record: Json) -> str | None:
    try:
        return names.normalize(str(record.get("name")))
    except InvalidName:
        return None


def _key(record: Json) -> tuple[str, str] | None:
    owner = _owner(record)
    return None if owner is None else (owner, str(record.get("type")))


def _rrsets(zone: str, records: list[Json]) -> list[RRset]:
    grouped: dict[tuple[str, str], tuple[list[int], list[str]]] = {}
    for record in records:
        key = _key(record)
        if key is None or not names.is_at_or_below(key[0], zone):
            log.warning("cloudflare: skipped a record with the name %r", record.get("name"))
            continue
        text = _canonical(record)
        if text is None:
            log.warning("cloudflare: skipped an unreadable %s record at %s", key[1], key[0])
            continue
        ttl = record.get("ttl")
        ttls, texts = grouped.setdefault(key, ([], []))
        ttls.append(AUTO_TTL if ttl == 1 or not isinstance(ttl, int) else ttl)
        if text not in texts:
            texts.append(text)
    # Cloudflare keeps a TTL per record; an RRset has one, and resolvers use the lowest.
    return [RRset(name, rtype, min(ttls), tuple(texts))
            for (name, rtype), (ttls, texts) in sorted(grouped.items())]


def _canonical(record: Json) -> str | None:
    """The canonical rdata of a Cloudflare record, or None if it cannot be read."""
    rtype = str(record.get("type"))
    try:
        text = _presentation(rtype, record)
        return canonical_rdata(rtype, text)
    except (InvalidRecord, KeyError, TypeError, ValueError):
        if rtype == "TXT" and isinstance(record.get("content"), str):
            return _raw_txt(record["content"])
        return None


def _presentation(rtype: str, record: Json) -> str:
    content = record.get("content")
    data = record.get("data")
    if rtype == "MX":
        return f"{_num(record['priority'])} {_absolute(content)}"
    if rtype in _HOST_CONTENT:
        return _absolute(content)
    if isinstance(data, dict) and rtype in _DATA_TEXT:
        return str(_DATA_TEXT[rtype](data))
    if not isinstance(content, str):
        raise ValueError("no content")
    return content


def _raw_txt(content: str) -> str:
    """Unquoted TXT content as Cloudflare serves it: one string, split at 255 octets."""
    raw = content.encode()
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
    return str(rdata.to_text())


def _num(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("not a number")
    number = float(value)
    if not number.is_integer():
        raise ValueError("not an integer")
    return int(number)


def _absolute(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("no name")
    return name if name.endswith(".") else name + "."


def _bare(name: dns.name.Name) -> str:
    text = str(name.to_text())
    return text if text == "." else text.rstrip(".")


def _quote(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _svcb_text(d: Json) -> str:
    return f"{_num(d['priority'])} {_absolute(d['target'])} {d.get('value') or ''}".strip()


_DATA_TEXT: dict[str, Callable[[Json], str]] = {
    "SRV": lambda d: (f"{_num(d['priority'])} {_num(d['weight'])} {_num(d['port'])} "
                      f"{_absolute(d['target'])}"),
    "CAA": lambda d: f"{_num(d['flags'])} {d['tag']} {_quote(d['value'])}",
    "DS": lambda d: (f"{_num(d['key_tag'])} {_num(d['algorithm'])} {_num(d['digest_type'])} "
                     f"{d['digest']}"),
    "SSHFP": lambda d: f"{_num(d['algorithm'])} {_num(d['type'])} {d['fingerprint']}",
    "TLSA": lambda d: (f"{_num(d['usage'])} {_num(d['selector'])} {_num(d['matching_type'])} "
                       f"{d['certificate']}"),
    "NAPTR": lambda d: (f"{_num(d['order'])} {_num(d['preference'])} {_quote(d['flags'])} "
                        f"{_quote(d['service'])} {_quote(d['regex'])} "
                        f"{_absolute(d['replacement'])}"),
    "HTTPS": _svcb_text,
    "SVCB": _svcb_text,
}


def _fields(rtype: str, text: str) -> Json:
    """Cloudflare's fields (``content``/``priority`` or ``data``) for canonical rdata."""
    try:
        rd: Any = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text,
                                      origin=dns.name.root, relativize=False)
    except dns.exception.DNSException as exc:
        raise InvalidRecord(f"invalid {rtype} record {text!r}: {exc}") from exc
    if rtype in ("A", "AAAA", "TXT"):
        return {"content": text}
    if rtype in _HOST_CONTENT:
        return {"content": _bare(rd.target)}
    if rtype == "MX":
        return {"content": _bare(rd.exchange), "priority": rd.preference}
    if rtype == "SRV":
        return {"data": {"priority": rd.priority, "weight": rd.weight, "port": rd.port,
                         "target": _bare(rd.target)}}
    if rtype == "CAA":
        try:
            value = rd.value.decode()
        except UnicodeDecodeError:
            raise InvalidRecord("cloudflare keeps CAA values as UTF-8 text") from None
        return {"data": {"flags": rd.flags, "tag": rd.tag.decode(), "value": value}}
    if rtype == "DS":
        return {"data": {"key_tag": rd.key_tag, "algorithm": int(rd.algorithm),
                         "digest_type": int(rd.digest_type), "digest": rd.digest.hex().upper()}}
    if rtype == "SSHFP":
        return {"data": {"algorithm": rd.algorithm, "type": rd.fp_type,
                         "fingerprint": rd.fingerprint.hex()}}
    if rtype == "TLSA":
        return {"data": {"usage": rd.usage, "selector": rd.selector,
                         "matching_type": rd.mtype, "certificate": rd.cert.hex()}}
    if rtype == "NAPTR":
        return {"data": {"order": rd.order, "preference": rd.preference,
                         "flags": rd.flags.decode(), "service": rd.service.decode(),
                         "regex": rd.regexp.decode(), "replacement": _bare(rd.replacement)}}
    if rtype in ("HTTPS", "SVCB"):
        params = text.split(" ", 2)  # "priority target params..." as dnspython prints it
        return {"data": {"priority": rd.priority, "target": _bare(rd.target),
                         "value": params[2] if len(params) > 2 else ""}}
    raise InvalidRecord(f"cloudflare does not take {rtype} records here")


def _open(config: CloudflareConfig) -> CloudflareBackend:
    return CloudflareBackend(config)


PROVIDER = Provider(
    name="cloudflare",
    description="Cloudflare DNS, through API v4 with an API token (atomic batches)",
    config_model=CloudflareConfig,
    capabilities=CloudflareBackend.capabilities,
    open=_open,
)
