"""Amazon Route 53, through boto3 (synchronous) in a worker thread.

A whole change set is ONE ``ChangeResourceRecordSets`` call of UPSERT and
DELETE actions; Route 53 applies a change batch all or nothing, so batches
are atomic. A DELETE must repeat the set exactly as it is (TTL and values),
so ``apply()`` first reads the current sets of the names it touches.

Record sets are translated in :mod:`dnsgate.backends.route53_records`
(Route 53's octal escapes); ``read()`` leaves out alias and routing-policy
record sets, and ``apply()`` refuses to touch their name and type rather than
clobber them.

The hosted zone of a zone name is looked up once (``ListHostedZonesByName``)
and cached. When one name has several hosted zones, the public one wins
(split-horizon set-ups pair a public zone with private ones); a private zone
is used only when it is the only one; anything still ambiguous must be pinned
in ``hosted_zone_ids``. ``zones()`` lists every hosted zone, private ones too.

A batch Route 53 refuses as a whole for its content (InvalidChangeBatch,
InvalidInput: a CNAME conflict, a value limit) is InvalidRecord with Route
53's reason, since retrying it cannot help; everything else that goes wrong
upstream is BackendUnavailable / BackendTimeout.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers
from botocore import xform_name
from pydantic import Field, SecretStr, field_validator

from dnsgate.backends import failures
from dnsgate.backends.base import Capabilities, Health, Provider, ProviderConfig, provider_url
from dnsgate.backends.route53_records import (
    RecordSet,
    change_batch,
    decode_name,
    fqdn,
    to_rrset,
)
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    InvalidName,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import WRITABLE_TYPES, Change, RRset
from dnsgate.security import egress as egress_policy
from dnsgate.security.egress import Egress, EgressRefused

log = logging.getLogger(__name__)

FAILED = "route53 backend failed"
TIMED_OUT = "route53 backend timed out"
#: Idempotent reads are retried this often on a connection failure, 5xx or throttling.
READ_RETRIES = 2
_BACKOFF = 0.2
_EXCERPT = 300
_SETS_PAGE = "300"  # the most ListResourceRecordSets returns per call
_ZONES_PAGE = "100"  # the most ListHostedZones(ByName) returns per call
_MAX_PAGES = 10_000
#: apply() reads each touched name on its own up to this many names, else the whole zone.
_PER_NAME_READS = 8
_AUTH_CODES: Final = frozenset({
    "AccessDenied", "AccessDeniedException", "AuthFailure", "ExpiredToken",
    "ExpiredTokenException", "IncompleteSignature", "InvalidAccessKeyId",
    "InvalidClientTokenId", "InvalidSignatureException", "MissingAuthenticationToken",
    "NotAuthorized", "SignatureDoesNotMatch", "UnrecognizedClientException",
})
_THROTTLE_CODES: Final = frozenset({
    "PriorRequestNotComplete", "RequestLimitExceeded", "Throttling", "ThrottlingException",
    "TooManyRequestsException",
})
#: Codes with which Route 53 refuses a change batch as a whole, because of its content
#: (ParamValidation: botocore found a value outside the API's limits before sending).
_REFUSED_CODES: Final = frozenset({"InvalidChangeBatch", "InvalidInput", "ParamValidation"})
_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_CONNECTION_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


class Route53Config(ProviderConfig):
    """An IAM access key with route53 rights; ``endpoint_url`` only for a test
    double such as moto."""

    access_key_id: str = Field(pattern=r"^\w{16,128}$")
    secret_access_key: SecretStr = Field(min_length=1, max_length=1000)
    session_token: SecretStr | None = Field(default=None, min_length=1, max_length=10_000)
    #: Route 53 is global; the region only chooses where requests are signed for.
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
    endpoint_url: str | None = Field(default=None, min_length=1, max_length=2000)
    #: Zone name -> hosted zone id, for names with several hosted zones.
    hosted_zone_ids: dict[str, str] = Field(default_factory=dict, description=(
        "Zone name -> hosted zone id, for names with several hosted zones."))

    @field_validator("session_token", mode="before")
    @classmethod
    def _no_token(cls, value: Any) -> Any:
        # Forms send "" for "no session token".
        return None if value == "" else value

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else provider_url(value)

    @field_validator("hosted_zone_ids")
    @classmethod
    def _zone_ids(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for zone, zone_id in value.items():
            try:
                name = names.normalize(zone, allow_wildcard=False)
            except InvalidName as exc:
                raise ValueError(f"invalid zone name: {exc.message}") from None
            bare = zone_id.strip().removeprefix("/hostedzone/")
            if not _ZONE_ID.fullmatch(bare):
                raise ValueError(f"invalid hosted zone id for {name}")
            out[name] = bare
        return out


class Route53Backend:
    """One AWS account's Route 53, reached with one access key."""

    provider = "route53"
    capabilities = Capabilities(list_zones=True, create_zones=False, atomic_batches=True,
                                per_record_ttl=True, record_types=WRITABLE_TYPES)

    def __init__(self, config: Route53Config) -> None:
        self.config = config
        self._client: Any = None
        self._client_guard = threading.Lock()
        self._zone_ids: dict[str, str] = {}  # looked up; pinned ones stay in the config

    # -- the Backend protocol ------------------------------------------------

    async def check(self) -> Health:
        try:
            answer = await self._call("GetHostedZoneCount", read=True)
        except BackendTimeout:
            return Health.now(False, f"no answer within {self.config.timeout:g}s",
                              failures.TIMED_OUT)
        except _Failure as exc:
            return Health.now(False, exc.health, exc.category)
        count = answer.get("HostedZoneCount")
        if not isinstance(count, int):
            return Health.now(False, "unexpected answer from Route 53", failures.BAD_ANSWER)
        return Health.now(True, f"Route 53 reachable ({count} hosted zones)")

    async def zones(self) -> list[str]:
        found: dict[str, list[_HostedZone]] = {}
        params: dict[str, Any] = {"MaxItems": _ZONES_PAGE}
        for _ in range(_MAX_PAGES):
            answer = await self._call("ListHostedZones", read=True, **params)
            for zone in _hosted_zones(answer):
                found.setdefault(zone.name, []).append(zone)
            marker = answer.get("NextMarker")
            if not answer.get("IsTruncated"):
                break
            if not isinstance(marker, str) or marker == params.get("Marker"):
                raise _unexpected("ListHostedZones: truncated without a new NextMarker")
            params["Marker"] = marker
        for name, candidates in found.items():
            chosen = _choose(candidates)
            if chosen is not None:
                self._zone_ids.setdefault(name, chosen.id)
        return sorted(found)

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]:
        zone_id = await self._zone_id(zone)
        out = []
        for item in await self._sets(zone, zone_id, name, rtype):
            if rtype is not None and item.type != rtype:
                continue
            rrset = to_rrset(item)
            if rrset is not None:
                out.append(rrset)
        return sorted(out, key=lambda rr: (rr.name, rr.type))

    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        """All changes in one change batch: Route 53 commits it whole or not at all."""
        final: dict[tuple[str, str], Change] = {}
        for change in changes:
            if not names.is_at_or_below(change.key[0], zone):
                raise InvalidName(f"{change.key[0]} is not in zone {zone}")
            final.pop(change.key, None)  # the last change of a key decides its end state
            final[change.key] = change
        if not final:
            return
        zone_id = await self._zone_id(zone)
        current = await self._current(zone, zone_id, {name for name, _ in final})
        batch = change_batch(final, current)
        if not batch:
            return
        try:
            await self._call("ChangeResourceRecordSets", read=False, HostedZoneId=zone_id,
                             ChangeBatch={"Comment": "dnsgate", "Changes": batch})
        except _Rejected as exc:
            if exc.code == "NoSuchHostedZone":
                raise self._zone_gone(zone) from None
            if exc.code in _REFUSED_CODES:
                # Refused before anything was committed: the records are at fault.
                raise InvalidRecord("Route 53 refused the change: "
                                    + (exc.upstream or "no reason given")) from None
            raise

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- hosted zones ----------------------------------------------------------

    async def _zone_id(self, zone: str) -> str:
        pinned = self.config.hosted_zone_ids.get(zone) or self._zone_ids.get(zone)
        if pinned is not None:
            return pinned
        candidates: list[_HostedZone] = []
        params: dict[str, Any] = {"DNSName": fqdn(zone), "MaxItems": _ZONES_PAGE}
        for _ in range(_MAX_PAGES):
            answer = await self._call("ListHostedZonesByName", read=True, **params)
            listed = _hosted_zones(answer)
            # Zones come sorted from DNSName on: the matches first, then the rest.
            matching = [hz for hz in listed if hz.name == zone]
            candidates.extend(matching)
            if len(matching) < len(listed) or not answer.get("IsTruncated"):
                break
            next_name, next_id = answer.get("NextDNSName"), answer.get("NextHostedZoneId")
            if not isinstance(next_name, str) or not isinstance(next_id, str):
                raise _unexpected("ListHostedZonesByName: truncated without a next zone")
            params.update(DNSName=next_name, HostedZoneId=next_id)
        chosen = _choose(candidates)
        if chosen is None:
            if candidates:
                raise BackendUnavailable(FAILED, detail=(
                    f"several hosted zones are named {zone} "
                    f"({', '.join(hz.id for hz in candidates)}); pin one in hosted_zone_ids"))
            raise ZoneNotFound(f"zone {zone} is not a hosted zone in Route 53")
        self._zone_ids[zone] = chosen.id
        return chosen.id

    def _zone_gone(self, zone: str) -> ZoneNotFound:
        # A deleted (or re-created) hosted zone: look it up again next time.
        self._zone_ids.pop(zone, None)
        return ZoneNotFound(f"zone {zone} is not a hosted zone in Route 53")

    # -- record sets -----------------------------------------------------------

    async def _current(self, zone: str, zone_id: str, touched: set[str]) -> list[RecordSet]:
        """The sets now at the touched names: one listing per name, or of the
        whole zone when that is fewer calls (Route 53 allows 5 requests/s)."""
        if len(touched) > _PER_NAME_READS:
            return [item for item in await self._sets(zone, zone_id) if item.name in touched]
        out: list[RecordSet] = []
        for name in sorted(touched):
            out.extend(await self._sets(zone, zone_id, name))
        return out

    async def _sets(self, zone: str, zone_id: str, name: str | None = None,
                    rtype: str | None = None) -> list[RecordSet]:
        """Every record set of the zone, or those at ``name`` (of ``rtype``).

        Route 53 lists sets sorted by name, then type, starting at
        StartRecordName/Type; a listing for one name stops at the first other.
        """
        params: dict[str, Any] = {"HostedZoneId": zone_id, "MaxItems": _SETS_PAGE}
        if name is not None:
            params["StartRecordName"] = fqdn(name)
            if rtype is not None:  # Route 53 accepts a type only with a name
                params["StartRecordType"] = rtype
        out: list[RecordSet] = []
        for _ in range(_MAX_PAGES):
            try:
                answer = await self._call("ListResourceRecordSets", read=True, **params)
            except _Rejected as exc:
                if exc.code == "NoSuchHostedZone":
                    raise self._zone_gone(zone) from None
                raise
            for item in _record_sets(answer):
                if name is not None and (item.name != name
                                         or (rtype is not None and item.type != rtype)):
                    return out
                out.append(item)
            if not answer.get("IsTruncated"):
                return out
            after = {"StartRecordName": answer.get("NextRecordName"),
                     "StartRecordType": answer.get("NextRecordType")}
            if not all(isinstance(value, str) for value in after.values()):
                raise _unexpected("ListResourceRecordSets: truncated without a next record")
            identifier = answer.get("NextRecordIdentifier")
            if isinstance(identifier, str):
                after["StartRecordIdentifier"] = identifier
            else:
                params.pop("StartRecordIdentifier", None)
            if all(params.get(key) == value for key, value in after.items()):
                raise _unexpected("ListResourceRecordSets: the next page is this page")
            params.update(after)
        raise _unexpected("ListResourceRecordSets: too many pages")

    # -- calls -------------------------------------------------------------------

    async def _boto(self) -> Any:
        # Created on first use, in a thread (loading the service model takes a
        # while); one client per adapter keeps its connection pool.
        if self._client is not None:
            return self._client
        return await asyncio.to_thread(self._client_once)

    def _client_once(self) -> Any:
        # A thread lock, not an asyncio one: the adapter may outlive an event loop.
        with self._client_guard:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> Any:
        config = self.config
        session = boto3.session.Session(
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key.get_secret_value(),
            aws_session_token=(config.session_token.get_secret_value()
                               if config.session_token is not None else None),
            region_name=config.region)
        return session.client("route53", endpoint_url=config.endpoint_url,
                              config=botocore.config.Config(
                                  connect_timeout=config.timeout, read_timeout=config.timeout,
                                  # total_max_attempts=1: botocore never retries (a
                                  # write must not be sent twice); reads retry below.
                                  retries={"total_max_attempts": 1, "mode": "standard"}))

    async def _call(self, operation: str, *, read: bool, **params: Any) -> dict[str, Any]:
        """One API call in a worker thread, bounded by ``timeout``.

        Reads are retried (at most READ_RETRIES times) after a connection
        failure, a 5xx or throttling; writes never are.
        """
        try:
            client = await self._boto()
        except (botocore.exceptions.BotoCoreError, ValueError) as exc:
            raise _Failure("cannot set up the Route 53 client",
                           f"{type(exc).__name__}: {self._scrub(str(exc))}") from None
        method: Callable[..., Any] = getattr(client, xform_name(operation))
        attempts = 1 + (READ_RETRIES if read else 0)
        for attempt in range(attempts):
            try:
                answer = await asyncio.wait_for(asyncio.to_thread(method, **params),
                                                self.config.timeout)
            except (TimeoutError, botocore.exceptions.ReadTimeoutError,
                    botocore.exceptions.ConnectTimeoutError):
                raise BackendTimeout(TIMED_OUT, detail=(
                    f"{operation}: no answer within {self.config.timeout:g}s")) from None
            except botocore.exceptions.ClientError as exc:
                failure = self._client_error(operation, exc)
            except botocore.exceptions.ParamValidationError as exc:
                text = self._scrub(str(exc))[:_EXCERPT]
                failure = _Rejected("ParamValidation", text, f"{operation}: {text}")
            except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError,
                    ValueError) as exc:
                failure = self._transport_error(operation, exc)
            else:
                if not isinstance(answer, dict):
                    raise _unexpected(f"{operation}: the answer is not a structure")
                return answer
            if not failure.retryable or attempt == attempts - 1:
                raise failure
            await asyncio.sleep(_BACKOFF * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _client_error(self, operation: str, exc: botocore.exceptions.ClientError) -> _Failure:
        error = exc.response.get("Error") or {}
        status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode", 0)
        code = str(error.get("Code") or "")
        message = str(error.get("Message") or "")
        if not code and exc.response.get("Messages"):
            # The modeled form, <InvalidChangeBatch><Messages><Message>..., has no
            # Code (and botocore keeps the text of a single Message only).
            code, message = "InvalidChangeBatch", _messages(exc.response["Messages"])
        message = self._scrub(message)[:_EXCERPT]
        detail = f"{operation}: HTTP {status} {code}: {message}".rstrip(": ")
        if code in _AUTH_CODES or status in (401, 403):
            return _Failure(f"authentication failed (HTTP {status}{' ' + code if code else ''})",
                            detail, category=failures.AUTH_REFUSED)
        if code in _THROTTLE_CODES or status == 429:
            return _Failure("throttled by Route 53", detail, retryable=True)
        if not isinstance(status, int) or status >= 500 or status < 400:
            return _Failure(f"error answer from Route 53 (HTTP {status})", detail,
                            retryable=True)
        return _Rejected(code, message, detail)

    def _transport_error(self, operation: str, exc: Exception) -> _Failure:
        text = self._scrub(str(exc))[:_EXCERPT]
        detail = f"{operation}: {type(exc).__name__}: {text}"
        if isinstance(exc, _CONNECTION_ERRORS):
            return _Failure("cannot connect to Route 53", detail, retryable=True,
                            category=failures.categorize(exc))
        return _Failure("unparseable answer from Route 53", detail, retryable=True)

    def _scrub(self, text: str) -> str:
        for secret in (self.config.secret_access_key, self.config.session_token):
            value = secret.get_secret_value() if secret is not None else ""
            if value:
                text = text.replace(value, "**********")
        return text


class _Failure(failures.ProviderFailure):
    """A failure with a one-line summary for ``check()`` (never a secret)."""

    def __init__(self, health: str, detail: str, *, retryable: bool = False,
                 category: str = failures.BAD_ANSWER) -> None:
        super().__init__(FAILED, detail=detail, category=category)
        self.health = health
        self.retryable = retryable


class _Rejected(_Failure):
    """A 4xx that is not about credentials: callers may know what it means."""

    def __init__(self, code: str, upstream: str, detail: str) -> None:
        super().__init__(f"Route 53 refused the request ({code or 'no code'})", detail)
        self.code = code
        self.upstream = upstream


def _messages(found: Any) -> str:
    if isinstance(found, dict):
        found = found.get("Message")
    if isinstance(found, list):
        return "; ".join(str(item) for item in found)
    return str(found or "")


def _unexpected(what: str) -> _Failure:
    return _Failure("unexpected answer from Route 53", what)


@dataclass(frozen=True, slots=True)
class _HostedZone:
    name: str
    id: str
    private: bool



def _hosted_zones(answer: dict[str, Any]) -> list[_HostedZone]:
    listed = answer.get("HostedZones")
    if not isinstance(listed, list):
        raise _unexpected("hosted zone list is not a list")
    out = []
    for item in listed:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str) \
                or not isinstance(item.get("Id"), str):
            raise _unexpected("hosted zone without a name or id")
        name = decode_name(item["Name"])
        if name is None or names.is_wildcard(name):
            continue
        config = item.get("Config")
        private = bool(config.get("PrivateZone")) if isinstance(config, dict) else False
        out.append(_HostedZone(name, item["Id"].removeprefix("/hostedzone/"), private))
    return out


def _choose(candidates: Sequence[_HostedZone]) -> _HostedZone | None:
    """The one public hosted zone, else the one private one, else None."""
    public = [hz for hz in candidates if not hz.private]
    if len(public) == 1:
        return public[0]
    if not public and len(candidates) == 1:
        return candidates[0]
    return None


def _record_sets(answer: dict[str, Any]) -> Iterable[RecordSet]:
    listed = answer.get("ResourceRecordSets")
    if not isinstance(listed, list):
        raise _unexpected("record set list is not a list")
    for item in listed:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str) \
                or not isinstance(item.get("Type"), str):
            raise _unexpected("record set without a name or type")
        name = decode_name(item["Name"])
        if name is None:
            log.debug("route53: skipped a record set whose name dnsgate cannot represent: %r",
                      item["Name"])
            continue
        yield RecordSet(name, item["Type"].upper(), item)


def _open(config: Route53Config, *, egress: Egress | None = None) -> Route53Backend:
    if egress is not None and config.endpoint_url is not None:
        # boto3 resolves and connects inside urllib3, where the address cannot be
        # checked and pinned, so an account's own backend takes a custom endpoint
        # only as an IP address (nothing to resolve), and one the guard allows.
        # Without endpoint_url it talks to AWS's own endpoint, which the account
        # does not choose.
        host = urlsplit(config.endpoint_url).hostname or ""
        if egress_policy.parse(host) is None:
            raise EgressRefused(host, field="endpoint_url", reason=(
                "must be an IP address for an account's own backend (a host name "
                "could not be pinned), or left empty for AWS"))
        egress.require(host, field="endpoint_url")
    return Route53Backend(config)


PROVIDER = Provider(
    name="route53",
    description="Amazon Route 53 through boto3 (one atomic change batch per change set)",
    config_model=Route53Config,
    capabilities=Route53Backend.capabilities,
    open=_open,
)
