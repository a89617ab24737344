"""Secondaries of built-in zones: whom to NOTIFY, who may transfer (addresses, TSIG)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dnsgate.db.models import BuiltinZone
from dnsgate.domain import names
from dnsgate.domain.errors import Conflict, InvalidInput, ZoneNotFound
from dnsgate.services import audit
from dnsgate.services.context import Caller, Env, RequestContext

#: session.info key: zones whose transfer settings this transaction changed.
SETTINGS_CHANGED = "dnsgate.secondaries.changed"
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")


@dataclass(frozen=True, slots=True)
class TsigKey:
    name: str
    algorithm: str
    secret: str  # base64


@dataclass(frozen=True, slots=True)
class TransferSettings:
    """A built-in zone's secondaries (the TSIG secrets stay inside the server)."""

    zone: str
    notify: tuple[tuple[str, int], ...]
    networks: tuple[str, ...]
    keys: tuple[TsigKey, ...]

    def public(self) -> dict[str, object]:
        """For responses and the audit log: key names and algorithms, never secrets."""
        return {"zone": self.zone, "notify": [f"{h}:{p}" for h, p in self.notify],
                "allow_transfer": list(self.networks),
                "tsig_keys": [{"name": k.name, "algorithm": k.algorithm} for k in self.keys]}


def parse_target(text: str) -> tuple[str, int]:
    """``127.0.0.1:5301``, ``[::1]:53`` or a bare address (port 53)."""
    value = text.strip()
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            port = _port(rest.lstrip(":"), text)
    elif value.count(":") == 1:
        host, _, raw = value.partition(":")
        port = _port(raw, text)
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError as exc:
        raise InvalidInput(f"NOTIFY target {text!r} is not an address[:port]") from exc


def _network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not an address or network") from exc


def _port(raw: str, text: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InvalidInput(f"bad port in {text!r}")
    return int(raw)


def parse_tsig(text: str) -> TsigKey:
    """``NAME:ALGORITHM:BASE64SECRET`` (the algorithm may be omitted: hmac-sha256)."""
    parts = text.strip().split(":")
    if len(parts) == 2:
        parts = [parts[0], "hmac-sha256", parts[1]]
    if len(parts) != 3:
        raise InvalidInput("a TSIG key is NAME:ALGORITHM:SECRET")
    name = names.normalize(parts[0], allow_wildcard=False)
    algorithm = parts[1].lower().rstrip(".")
    if algorithm not in TSIG_ALGORITHMS:
        raise InvalidInput(f"TSIG algorithm must be one of {', '.join(TSIG_ALGORITHMS)}")
    try:
        if len(base64.b64decode(parts[2], validate=True)) < 16:
            raise InvalidInput("a TSIG secret needs at least 128 bits")
    except binascii.Error as exc:
        raise InvalidInput("a TSIG secret is base64") from exc
    return TsigKey(name, algorithm, parts[2])


def _settings(row: BuiltinZone) -> TransferSettings:
    return TransferSettings(
        zone=row.name,
        notify=tuple(parse_target(t) for t in row.notify or ()),
        networks=tuple(row.allow_transfer or ()),
        keys=tuple(TsigKey(k["name"], k["algorithm"], k["secret"]) for k in row.tsig_keys or ()))


def load_all(session: Session) -> dict[str, TransferSettings]:
    """Every built-in zone's settings (the DNS server reads them at each reload)."""
    return {row.name: _settings(row) for row in session.scalars(select(BuiltinZone))}


def set_transfer(env: Env, ctx: RequestContext, *, caller: Caller | None, zone: str,
                 notify: Sequence[str] | None = None,
                 allow_transfer: Sequence[str] | None = None,
                 tsig: Sequence[str] | None = None) -> TransferSettings:
    """Replace the given lists (None leaves a list as it is)."""
    name = names.normalize(zone, allow_wildcard=False)
    targets = [parse_target(t) for t in notify] if notify is not None else None
    networks = [_network(n) for n in allow_transfer] if allow_transfer is not None else None
    keys = [parse_tsig(k) for k in tsig] if tsig is not None else None
    now = env.clock()
    with env.db.write() as session:
        row = session.scalars(select(BuiltinZone).where(BuiltinZone.name == name)).first()
        if row is None:
            raise ZoneNotFound(f"zone {name} is not a built-in zone")
        if targets is not None:
            row.notify = [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in targets]
        if networks is not None:
            row.allow_transfer = networks
        if keys is not None:
            _check_key_names(session, name, keys)
            row.tsig_keys = [{"name": k.name, "algorithm": k.algorithm, "secret": k.secret}
                             for k in keys]
        session.flush()
        settings = _settings(row)
        audit.record(session, ctx, caller=caller, action="zone.transfer", when=now,
                     zone=name, details=settings.public())
        session.info.setdefault(SETTINGS_CHANGED, []).append(name)
        return settings


def _check_key_names(session: Session, zone: str, keys: Sequence[TsigKey]) -> None:
    """One key name means one secret across the server (they share a keyring)."""
    for other in session.scalars(select(BuiltinZone).where(BuiltinZone.name != zone)):
        for existing in other.tsig_keys or ():
            for key in keys:
                if existing["name"] == key.name and (
                        existing["secret"] != key.secret
                        or existing["algorithm"] != key.algorithm):
                    raise Conflict(f"TSIG key {key.name} is defined differently "
                                   f"for zone {other.name}")
