"""RFC 2136 dynamic UPDATE signed with TSIG, read by AXFR (BIND, Knot, ...).

A change list becomes ONE UPDATE message, which the primary applies
atomically (RFC 2136 3.0), so ``atomic_batches`` holds. Everything goes over
TCP: a primary that is down refuses the connection at once, and large
answers are never truncated.

Prerequisites guard what a primary would otherwise do silently:

* BIND (and RFC 2136 3.4.2.2) *ignores* a CNAME added where other data
  lives and other data added where a CNAME lives, answering NOERROR. An
  Upsert of a non-CNAME type therefore requires "no CNAME at the name", and
  an Upsert of a CNAME requires "no RRset of any type dnsgate writes" there
  (minus the ones the same batch deletes). If another writer got there
  first, the whole message is refused (YXRRSET) instead of half applied.
* Deleting the apex NS RRset is ignored (RFC 2136 3.4.2.4), so "delete +
  add" would merge the old and new NS sets. Replacing the apex NS reads the
  current set, adds the new records, deletes the old ones one by one, and
  requires the current set to be exactly what was read (value-dependent
  prerequisite): a concurrent change makes the server refuse (NXRRSET).

RFC 2136 cannot list zones, so the admin lists the zones this primary holds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Final, Literal, TypeVar

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.update
import dns.xfr
import dns.zone
from pydantic import Field, SecretStr, field_validator

from dnsgate.backends import failures
from dnsgate.backends.base import Capabilities, Health, Provider, ProviderConfig
from dnsgate.domain import names
from dnsgate.domain.errors import (
    BackendTimeout,
    BackendUnavailable,
    Conflict,
    InvalidInput,
    InvalidName,
    InvalidRecord,
    ZoneNotFound,
)
from dnsgate.domain.records import WRITABLE_TYPES, Change, RRset, Upsert, canonical_rdata
from dnsgate.security.egress import Egress

NAME: Final = "rfc2136"
FAILED: Final = f"{NAME} backend failed"
TSIG_FAILED: Final = f"{FAILED}: TSIG authentication failed"
TsigAlgorithm = Literal["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha1"]
#: Reads are retried this often after a connection failure or SERVFAIL.
READ_RETRIES: Final = 2
RETRY_BACKOFF: Final = 0.1
#: What a garbled answer raises inside dnspython's parser.
_PARSE_ERRORS: Final = (dns.exception.DNSException, ValueError, struct.error, IndexError,
                        KeyError, UnicodeError)
#: The TSIG error a server reported, by the exception dnspython raises for it.
_TSIG_ERRORS: Final[dict[type[Exception], str]] = {
    dns.tsig.PeerBadKey: "BADKEY", dns.tsig.PeerBadSignature: "BADSIG",
    dns.tsig.PeerBadTime: "BADTIME", dns.tsig.PeerBadTruncation: "BADTRUNC"}
T = TypeVar("T")


class RFC2136Config(ProviderConfig):
    """A primary that accepts TSIG-signed UPDATE and AXFR for ``zones``."""

    server: str = Field(min_length=1, max_length=253)
    port: int = Field(default=53, ge=1, le=65535)
    tsig_key_name: str = Field(min_length=1, max_length=253)
    tsig_secret: SecretStr
    tsig_algorithm: TsigAlgorithm = "hmac-sha256"
    zones: list[str] = Field(min_length=1, description="The zones this primary serves.")

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        try:
            return names.normalize(value, allow_wildcard=False)
        except InvalidName as exc:
            raise ValueError(f"not an IP address or host name ({exc.message})") from None

    @field_validator("tsig_key_name")
    @classmethod
    def _key_name(cls, value: str) -> str:
        try:
            dns.name.from_text(value)
        except dns.exception.DNSException:
            raise ValueError("not a valid TSIG key name") from None
        return value

    @field_validator("tsig_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        # The message never repeats the value: it is a secret.
        try:
            decoded = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64") from None
        if not decoded:
            raise ValueError("must not be empty")
        return value

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for zone in value:
            try:
                name = names.normalize(zone, allow_wildcard=False)
            except InvalidName as exc:
                raise ValueError(f"invalid zone name ({exc.message})") from None
            if name not in out:
                out.append(name)
        return out


class _Key(dns.tsig.Key):
    """A TSIG key whose repr does not print the secret (dnspython's does)."""

    def __repr__(self) -> str:
        return f"<TSIG key {self.name} {self.algorithm}>"


class RFC2136Backend:
    """Zones on a primary reached by TSIG-signed UPDATE and AXFR."""

    provider = NAME
    capabilities = Capabilities(list_zones=True, create_zones=False,
                                record_types=WRITABLE_TYPES, atomic_batches=True,
                                blind_writes=True)

    def __init__(self, config: RFC2136Config, *, egress: Egress | None = None) -> None:
        self.config = config
        self._egress = egress  # an account's own backend: connect only where it allows
        self._key = _Key(config.tsig_key_name, config.tsig_secret.get_secret_value(),
                         config.tsig_algorithm)
        host = f"[{config.server}]" if ":" in config.server else config.server
        self._where = f"{host}:{config.port}"

    async def aclose(self) -> None:
        """Nothing to release: every exchange opens and closes its own connection."""

    async def zones(self) -> list[str]:
        return list(self.config.zones)

    async def check(self) -> Health:
        for zone in self.config.zones:
            try:
                response = await self._retrying(partial(self._query, zone, "SOA"))
            except BackendUnavailable as exc:  # its detail names the zone, never the secret
                return Health.now(False, exc.detail or exc.message, failures.categorize(exc))
            rcode = response.rcode()
            if rcode != dns.rcode.NOERROR or not response.flags & dns.flags.AA or not any(
                    rr.rdtype == dns.rdatatype.SOA for rr in response.answer):
                return Health.now(False, f"{self._where} is not authoritative for {zone} "
                                         f"({dns.rcode.to_text(rcode)})", failures.ZONE_UNKNOWN)
        count = len(self.config.zones)
        return Health.now(True, f"{self._where} is authoritative for {count} "
                                f"zone{'s' if count != 1 else ''}; TSIG key accepted")

    async def read(self, zone: str, name: str | None = None,
                   rtype: str | None = None) -> list[RRset]:
        """The zone by AXFR (the only complete view RFC 2136 servers offer),
        filtered here: a query could answer from a wildcard or a referral."""
        zone = self._zone(zone)
        owner = names.normalize(name) if name is not None else None
        wanted = rtype.strip().upper() if rtype is not None else None
        transferred = await self._retrying(partial(self._transfer, zone))
        out: list[RRset] = []
        for node_name, node in transferred.nodes.items():
            text = node_name.to_text(omit_final_dot=True)
            try:
                owner_name = names.normalize(text)
            except InvalidName:  # e.g. an escaped label written outside dnsgate
                owner_name = text.lower()
            if owner is not None and owner_name != owner:
                continue
            for rdataset in node.rdatasets:
                type_text = dns.rdatatype.to_text(rdataset.rdtype)
                if wanted is not None and type_text != wanted:
                    continue
                records = sorted({_canonical(type_text, rd) for rd in rdataset})
                out.append(RRset(owner_name, type_text, rdataset.ttl, tuple(records)))
        return sorted(out, key=lambda rr: (rr.name, rr.type))

    async def apply(self, zone: str, changes: Sequence[Change]) -> None:
        """All changes in one UPDATE message: the primary applies all or nothing."""
        zone = self._zone(zone)
        if not changes:
            return
        _validate(zone, changes)
        apex_ns = None
        if any(isinstance(c, Upsert) and c.key == (zone, "NS") for c in changes):
            apex_ns = await self._apex_ns(zone)
        update = self._update_message(zone, changes, apex_ns)
        try:
            update.to_wire()  # one message carries at most 64 KiB
        except dns.exception.TooBig:
            raise InvalidInput("the change set is too large for one DNS UPDATE message; "
                               "split it") from None
        response = await self._exchange(update, "update")
        _check_update(response, self._where)

    # -- the UPDATE message --------------------------------------------------

    def _update_message(self, zone: str, changes: Sequence[Change],
                        apex_ns: dns.rdataset.Rdataset | None) -> dns.update.UpdateMessage:
        update = dns.update.UpdateMessage(zone, keyring=self._key)
        touched: dict[str, set[str]] = {}
        for change in changes:
            touched.setdefault(change.key[0], set()).add(change.key[1])
        # Prerequisites (see the module docstring).
        for change in changes:
            if not isinstance(change, Upsert):
                continue
            name, rtype = change.key
            if rtype == "CNAME":
                for other in sorted(WRITABLE_TYPES - touched[name]):
                    update.absent(_abs(name), other)
            elif "CNAME" not in touched[name]:
                update.absent(_abs(name), "CNAME")
        if apex_ns is not None:
            update.present(_abs(zone), apex_ns)
        # Deletes before adds, so "delete CNAME, add A" works in any order;
        # no (name, type) appears twice, so the final state is the same.
        for change in changes:
            if change.key != (zone, "NS"):
                update.delete(_abs(change.key[0]), change.key[1])
        for change in changes:
            if isinstance(change, Upsert):
                rr = change.rrset
                update.add(_abs(rr.name), _rdataset(rr))
        if apex_ns is not None:
            # Old apex NS records go after the new ones are in: the last NS
            # of a zone cannot be deleted, and such a delete is ignored.
            new = next(c.rrset for c in changes if isinstance(c, Upsert) and c.key == (zone, "NS"))
            keep = set(new.records)
            for rd in apex_ns:
                if _canonical("NS", rd) not in keep:
                    update.delete(_abs(zone), rd)
        return update

    async def _apex_ns(self, zone: str) -> dns.rdataset.Rdataset:
        response = await self._retrying(partial(self._query, zone, "NS"))
        if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA:
            raise failures.ProviderFailure(
                f"{FAILED}: the server is not authoritative for the zone",
                detail=f"NS query for {zone} at {self._where}: "
                       f"{dns.rcode.to_text(response.rcode())}",
                category=failures.ZONE_UNKNOWN)
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.NS and rrset.name == _abs(zone):
                # TTL 0: a prerequisite's TTL must be zero (RFC 2136 2.4).
                return dns.rdataset.from_rdata_list(0, list(rrset))
        raise BackendUnavailable(FAILED, detail=f"{self._where} answered no NS for {zone}")

    # -- exchanges -------------------------------------------------------------

    async def _query(self, name: str, rtype: str) -> dns.message.Message:
        query = dns.message.make_query(_abs(name), rtype, use_edns=0, payload=4096)
        query.use_tsig(self._key)
        response = await self._exchange(query, f"{rtype} query for {name}")
        if response.rcode() == dns.rcode.SERVFAIL:
            raise ServerFailed(FAILED, detail=f"{rtype} query for {name} at {self._where}: "
                                              "SERVFAIL")
        return response

    async def _transfer(self, zone: str) -> dns.zone.Zone:
        target = dns.zone.Zone(_abs(zone), relativize=False)
        query, _ = dns.xfr.make_query(target, serial=None, keyring=self._key)

        async def run() -> None:
            host = await self._host()
            await dns.asyncquery.inbound_xfr(host, target, query, port=self.config.port,
                                             timeout=self.config.timeout,
                                             lifetime=self.config.timeout)
        try:
            await self._guard(run(), f"AXFR of {zone}")
        except dns.xfr.TransferError as exc:
            rcode = exc.rcode
            if rcode == dns.rcode.SERVFAIL:
                raise ServerFailed(FAILED, detail=f"AXFR of {zone} at {self._where}: "
                                                  "SERVFAIL") from None
            raise _rcode_error(rcode, f"AXFR of {zone}", self._where) from None
        return target

    async def _exchange(self, message: dns.message.Message, what: str) -> dns.message.Message:
        async def run() -> dns.message.Message:
            host = await self._host()
            return await dns.asyncquery.tcp(message, host, port=self.config.port,
                                            timeout=self.config.timeout)
        return await self._guard(run(), what)

    async def _guard(self, call: Awaitable[T], what: str) -> T:
        """Run one upstream call; map its failures onto the error tree."""
        where = self._where
        try:
            async with asyncio.timeout(self.config.timeout):
                return await call
        except (TimeoutError, dns.exception.Timeout):
            raise BackendTimeout(f"{NAME} backend timed out",
                                 detail=f"{what} at {where}: no answer within "
                                        f"{self.config.timeout:g} s") from None
        except dns.tsig.PeerError as exc:
            raise BackendUnavailable(TSIG_FAILED,
                                     detail=f"{what} at {where}: TSIG authentication failed "
                                            f"for key {self.config.tsig_key_name} "
                                            f"({_TSIG_ERRORS.get(type(exc), 'error')})"
                                     ) from None
        except (dns.message.UnknownTSIGKey, dns.tsig.BadSignature, dns.tsig.BadTime) as exc:
            raise BackendUnavailable(TSIG_FAILED,
                                     detail=f"{what} at {where}: the answer's TSIG does not "
                                            f"verify ({type(exc).__name__})") from None
        except dns.xfr.TransferError:
            raise
        except ConnectionRefusedError:
            raise ConnectionFailed(FAILED, detail=f"{what} at {where}: connection "
                                                  "refused") from None
        except EOFError:
            raise ConnectionFailed(FAILED, detail=f"{what} at {where}: connection closed "
                                                  "before a complete answer") from None
        except OSError as exc:
            raise ConnectionFailed(FAILED, detail=f"{what} at {where}: "
                                                  f"{exc.strerror or type(exc).__name__}"
                                   ) from None
        except _PARSE_ERRORS as exc:  # an answer that does not parse
            raise BackendUnavailable(FAILED, detail=f"{what} at {where}: unusable answer "
                                                    f"({type(exc).__name__}: {exc})"[:300]
                                     ) from None

    async def _host(self) -> str:
        """The server as an address (dnspython needs one); resolved per call.

        An account's own backend: every address checked, and dnspython is
        handed a checked one (it connects to exactly that)."""
        server = self.config.server
        if self._egress is not None:
            return (await self._egress.resolve(server, self.config.port))[0]
        try:
            ipaddress.ip_address(server)
        except ValueError:
            pass
        else:
            return server
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                server, self.config.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise BackendUnavailable(FAILED, detail=f"cannot resolve {server}: "
                                                    f"{exc.strerror or exc}") from None
        return str(infos[0][4][0])

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """An idempotent read, retried after connection failures and SERVFAIL."""
        for attempt in range(READ_RETRIES + 1):
            try:
                return await call()
            except (ConnectionFailed, ServerFailed):
                if attempt == READ_RETRIES:
                    raise
                await asyncio.sleep(RETRY_BACKOFF * (attempt + 1))
        raise AssertionError("unreachable")

    def _zone(self, zone: str) -> str:
        name = names.normalize(zone, allow_wildcard=False)
        if name not in self.config.zones:
            raise ZoneNotFound(f"zone {name} is not configured for this {NAME} backend")
        return name


class ConnectionFailed(BackendUnavailable):
    """Connection refused, reset or closed early: a read may try again."""


class ServerFailed(BackendUnavailable):
    """The server answered SERVFAIL: a read may try again."""


def _validate(zone: str, changes: Sequence[Change]) -> None:
    """Refuse, before any I/O, what the server would refuse or silently ignore."""
    seen: set[tuple[str, str]] = set()
    upserted: dict[str, set[str]] = {}
    for change in changes:
        name, rtype = change.key
        if not names.is_at_or_below(name, zone):
            raise InvalidName(f"{name} is not in zone {zone}")
        if rtype not in WRITABLE_TYPES:
            raise InvalidRecord(f"the {NAME} backend does not write {rtype} records")
        if change.key in seen:
            raise InvalidRecord(f"{name}/{rtype} appears twice in one change set")
        seen.add(change.key)
        if change.key == (zone, "NS") and not isinstance(change, Upsert):
            raise InvalidRecord("the apex NS RRset cannot be deleted, only replaced")
        if change.key == (zone, "CNAME"):
            raise InvalidRecord("a zone apex cannot hold a CNAME")
        if isinstance(change, Upsert):
            upserted.setdefault(name, set()).add(rtype)
    for name, types in upserted.items():
        if "CNAME" in types and len(types) > 1:
            raise InvalidRecord(f"a CNAME cannot coexist with other records at {name}")


def _check_update(response: dns.message.Message, where: str) -> None:
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR:
        return
    if rcode == dns.rcode.YXRRSET:
        raise InvalidRecord("a CNAME cannot coexist with other records at the same name; "
                            "the server refused the change set and nothing was changed")
    if rcode == dns.rcode.NXRRSET:
        raise Conflict("the apex NS RRset changed while it was being replaced; "
                       "nothing was changed, try again")
    raise _rcode_error(rcode, "update", where)


def _rcode_error(rcode: dns.rcode.Rcode, what: str, where: str) -> BackendUnavailable:
    text = dns.rcode.to_text(rcode)
    detail = f"{what} at {where}: {text}"
    if rcode in (dns.rcode.NOTAUTH, dns.rcode.NOTZONE):
        return failures.ProviderFailure(
            f"{FAILED}: the server is not authoritative for the zone ({text})",
            detail=detail, category=failures.ZONE_UNKNOWN)
    if rcode == dns.rcode.REFUSED:
        # BIND says why only in its log: the ACL or update-policy, or an
        # integrity check (e.g. an in-zone MX/SRV target without an address).
        return failures.ProviderFailure(
            f"{FAILED}: the server refused the request (REFUSED)",
            detail=f"{detail} (the server's log says why)", category=failures.AUTH_REFUSED)
    return BackendUnavailable(f"{FAILED} ({text})", detail=detail)


def _abs(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


def _canonical(rtype: str, rd: dns.rdata.Rdata) -> str:
    text = rd.to_text()
    try:
        return canonical_rdata(rtype, text)
    except InvalidRecord:  # a type dnsgate does not parse: keep the server's text
        return text


def _rdataset(rr: RRset) -> dns.rdataset.Rdataset:
    try:
        rdatas = [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rr.type),
                                      text, origin=dns.name.root, relativize=False)
                  for text in rr.records]
    except dns.exception.DNSException as exc:
        raise InvalidRecord(f"invalid {rr.type} record for {rr.name}: {exc}") from None
    return dns.rdataset.from_rdata_list(rr.ttl, rdatas)


def open_backend(config: RFC2136Config, *, egress: Egress | None = None) -> RFC2136Backend:
    if egress is not None:
        egress.require_literal(config.server, field="server")
    return RFC2136Backend(config, egress=egress)


PROVIDER = Provider(
    name=NAME,
    description="any primary accepting RFC 2136 dynamic updates with TSIG (BIND, Knot, ...)",
    config_model=RFC2136Config,
    capabilities=RFC2136Backend.capabilities,
    open=open_backend,
)
