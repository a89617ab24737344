"""A simulator of the Cloudflare API v4 (the DNS part), for tests.

Cloudflare cannot run here, so this is a real HTTP server on a loopback port
that answers the way Cloudflare's documentation (developers.cloudflare.com/api)
and its observed answers say it does. It is checked against two third-party
clients (the official ``cloudflare`` SDK and dns-lexicon) in
``tests/backends/test_cloudflare_simulator.py``.

What it models:

* The envelope ``{"success", "errors": [{"code", "message"}], "messages",
  "result", "result_info"}`` on every answer, errors included.
* Auth: ``Authorization: Bearer <API token>`` (tokens may be limited to some
  zones) and the legacy ``X-Auth-Email``/``X-Auth-Key``. No credentials: 400
  9106. A malformed header: 400 6003 with an ``error_chain`` (6111/6103). An
  unknown token: 403 10000 "Authentication error" (401 1000 "Invalid API
  Token" on ``/user/tokens/verify``, which refuses the legacy scheme with 400
  1001). A zone outside the token's reach: 403 10000.
* Routes under ``/client/v4``: ``GET /user/tokens/verify``, ``GET /zones``,
  ``GET /zones/{id}``, ``GET|POST /zones/{id}/dns_records``,
  ``POST /zones/{id}/dns_records/batch``, ``GET|PUT|PATCH|DELETE
  /zones/{id}/dns_records/{id}``. An unknown route: 400 7000 "No route for
  that URI"; an unknown or malformed identifier: 400 7003 "Could not route to
  ..., perhaps your object identifier is invalid?" plus 7000; an unknown
  record: 404 81044 "Record does not exist."; a wrong method: 405 10000.
* Pagination: ``page`` (from 1) and ``per_page`` (zones 5..50, default 20;
  records 5..5,000,000, default 100; values outside are clamped); a page past
  the end answers an empty ``result`` list, so clients that loop until an
  empty page (the SDK) and clients that read ``total_pages`` (lexicon) stop.
* Record filters ``type``, ``name`` / ``name.exact|contains|startswith|
  endswith``, the same for ``content``, ``proxied``, ``match`` (all/any),
  ``order`` and ``direction``; zone filters ``name`` (exact, or the legacy
  ``contains:``/``starts_with:``/``ends_with:`` prefixes) and ``status``.
* Records: full lowercase owner names (a relative or ``@`` name is completed
  with the zone), ``ttl`` 1 = automatic (the default; proxied records always
  report 1), ``proxiable``/``proxied`` (only A, AAAA, CNAME can be proxied),
  ``priority`` for MX, ``data`` for SRV/CAA/DS/SSHFP/TLSA/NAPTR/HTTPS/SVCB
  (``content`` accepted instead), ``comment``, ``tags``, timestamps. TXT
  ``content`` is kept as written: quoted character-strings (RFC 1035) are
  served as those strings, anything else as one raw string; strings longer
  than 255 octets are split automatically.
* Validation: 400 1004 "DNS Validation Error" with an ``error_chain`` naming
  the problem (9021 for a TTL outside 60..86400 or 1, 9005/9006 for bad
  addresses, ...); 81058 "An identical record already exists."; 81053/81054
  when a CNAME would share its name with other records.
* ``POST .../dns_records/batch``: ``deletes``, ``patches``, ``puts``, ``posts``
  executed in that order in one transaction; the first error aborts the batch
  and nothing changes. At most ``batch_limit`` (200, the Free plan) operations.

Test hooks: ``fault(mode, endpoint)`` makes requests answer HTTP 500,
``hang`` (no answer until the block ends) or ``garbage`` (200, not JSON);
``counts`` counts requests per endpoint ("GET /zones", ...). Error codes not
observed in Cloudflare's answers (the exact 9xxx of a chain, the batch size
error) are best effort; the top-level codes are Cloudflare's.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import math
import re
import secrets
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tokenizer

PREFIX = "/client/v4"
FaultMode = Literal["error", "hang", "garbage"]
Json = dict[str, Any]

_ID = re.compile(r"^[0-9a-f]{32}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_LEGACY_KEY = re.compile(r"^[0-9a-f]{37}$")
_LABEL = re.compile(r"^(\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")
_PROXIABLE = frozenset({"A", "AAAA", "CNAME"})
_NAME_CONTENT = frozenset({"CNAME", "NS", "PTR", "MX"})
#: Types whose fields live in ``data`` (Cloudflare's "components of a ... record").
_DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "SRV": ("priority", "weight", "port", "target"),
    "CAA": ("flags", "tag", "value"),
    "DS": ("key_tag", "algorithm", "digest_type", "digest"),
    "SSHFP": ("algorithm", "type", "fingerprint"),
    "TLSA": ("usage", "selector", "matching_type", "certificate"),
    "NAPTR": ("order", "preference", "flags", "service", "regex", "replacement"),
    "HTTPS": ("priority", "target", "value"),
    "SVCB": ("priority", "target", "value"),
}
_SUPPORTED = frozenset({"A", "AAAA", "CNAME", "MX", "NS", "PTR", "TXT", *_DATA_FIELDS})
_TXT_MAX_CONTENT = 2048
_TXT_CHUNK = 255
_ZONES_PER_PAGE = (5, 50, 20)  # min, max, default
_RECORDS_PER_PAGE = (5, 5_000_000, 100)
_HANG_LIMIT = 60.0


class ApiError(Exception):
    """An error answer: HTTP status and Cloudflare's error objects."""

    def __init__(self, status: int, *errors: Json) -> None:
        super().__init__(errors[0]["message"] if errors else str(status))
        self.status = status
        self.errors = list(errors)


def _err(code: int, message: str, chain: list[Json] | None = None) -> Json:
    out: Json = {"code": code, "message": message}
    if chain:
        out["error_chain"] = chain
    return out


def _invalid(code: int, message: str) -> ApiError:
    """Cloudflare's shape for a record it refuses: 1004 with the reason chained."""
    return ApiError(400, _err(1004, "DNS Validation Error", [_err(code, message)]))


def _no_route(path: str) -> ApiError:
    return ApiError(400, _err(7003, f"Could not route to {PREFIX}{path}, perhaps your object "
                                    "identifier is invalid?"),
                    _err(7000, "No route for that URI"))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Token:
    value: str
    id: str = field(default_factory=_new_id)
    status: str = "active"
    #: Zone names the token reaches; None = every zone.
    zones: frozenset[str] | None = None

    def reaches(self, zone: str) -> bool:
        return self.zones is None or zone in self.zones


@dataclass
class Zone:
    id: str
    name: str
    status: str
    name_servers: list[str]
    created_on: str
    records: dict[str, Json] = field(default_factory=dict)

    def as_json(self) -> Json:
        return {
            "id": self.id, "name": self.name, "status": self.status, "paused": False,
            "type": "full", "development_mode": 0, "name_servers": list(self.name_servers),
            "original_name_servers": None, "original_registrar": None,
            "original_dnshost": None, "created_on": self.created_on,
            "modified_on": self.created_on, "activated_on": self.created_on,
            "vanity_name_servers": [],
            "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3,
                     "phishing_detected": False},
            "owner": {"id": None, "type": "user", "email": None},
            "account": {"id": "0" * 32, "name": "dnsgate tests"},
            "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
            "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website",
                     "price": 0, "currency": "USD", "frequency": "", "is_subscribed": False,
                     "can_subscribe": False, "legacy_id": "free", "legacy_discount": False,
                     "externally_managed": False},
        }


@dataclass
class _Fault:
    mode: FaultMode
    endpoint: str | None


class CloudflareSimulator:
    """Zones and DNS records behind Cloudflare's API v4, on 127.0.0.1:<port>."""

    def __init__(self, *, batch_limit: int = 200) -> None:
        self.batch_limit = batch_limit
        self.counts: Counter[str] = Counter()
        self._tokens: dict[str, Token] = {}
        self._legacy: dict[tuple[str, str], frozenset[str] | None] = {}
        self._zones: dict[str, Zone] = {}
        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._release = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.simulator = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="cloudflare-simulator", daemon=True)
        self._thread.start()

    # -- set-up and inspection (tests) -------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + PREFIX

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        # Idle keep-alive connections would hold their handler threads (and
        # sockets) forever: end them so every socket is closed.
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(5)

    def add_token(self, value: str | None = None, *, zones: set[str] | None = None,
                  status: str = "active") -> str:
        """Register an API token (40 URL-safe characters unless given)."""
        token = value or secrets.token_urlsafe(30)[:40]
        self._tokens[token] = Token(token, status=status,
                                    zones=frozenset(zones) if zones is not None else None)
        return token

    def add_legacy_key(self, email: str, key: str | None = None) -> str:
        """Register a Global API key (37 hex characters) for ``email``."""
        key = key or secrets.token_hex(19)[:37]
        self._legacy[(email, key)] = None
        return key

    def add_zone(self, name: str, *, status: str = "active",
                 name_servers: tuple[str, ...] = ("ada.ns.cloudflare.com",
                                                  "bob.ns.cloudflare.com")) -> str:
        """Create a zone (Cloudflare serves SOA and apex NS itself: they are not
        DNS records of the API) and return its id."""
        zone = Zone(_new_id(), name.lower().rstrip("."), status, list(name_servers), _now())
        with self._lock:
            self._zones[zone.id] = zone
        return zone.id

    def remove_zone(self, name: str) -> None:
        with self._lock:
            del self._zones[self._zone_named(name).id]

    def zone_id(self, name: str) -> str:
        return self._zone_named(name).id

    def add_record(self, zone: str, **fields: Any) -> Json:
        """Create a record as ``POST dns_records`` would (validated); returns it
        as the API shows it."""
        with self._lock:
            found = self._zone_named(zone)
            record = self._build(found, fields, None)
            _check_conflicts(found, record)
            found.records[record["id"]] = record
            return _public(found, record)

    def records(self, zone: str) -> list[Json]:
        """Every record of ``zone`` as the API shows it."""
        with self._lock:
            found = self._zone_named(zone)
            return [_public(found, r) for r in _sorted(found.records.values(), "type", "asc")]

    def presentation(self, zone: str, name: str, rtype: str) -> list[str]:
        """What Cloudflare would serve for (name, type): presentation-format rdata
        built from the simulator's own state (TXT as the strings it serves)."""
        with self._lock:
            found = self._zone_named(zone)
            return sorted(_served(r) for r in found.records.values()
                          if r["name"] == name and r["type"] == rtype)

    @contextlib.contextmanager
    def fault(self, mode: FaultMode, endpoint: str | None = None) -> Iterator[None]:
        """Within the block, requests to ``endpoint`` (e.g. "POST
        /zones/{zone_id}/dns_records/batch"; None = all) fail in ``mode``."""
        entry = _Fault(mode, endpoint)
        self._faults.append(entry)
        self._release.clear()
        try:
            yield
        finally:
            self._faults.remove(entry)
            self._release.set()

    def _zone_named(self, name: str) -> Zone:
        for zone in self._zones.values():
            if zone.name == name:
                return zone
        raise KeyError(name)

    # -- HTTP ---------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, bytes | None]:
        """Answer one request: (status, body); body None = close without answering."""
        parts = urlsplit(target)
        path = parts.path
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not path.startswith(PREFIX):
            return _answer(404, None, [_err(7000, "No route for that URI")])
        path = path[len(PREFIX):] or "/"
        route = _route(method, path)
        endpoint = f"{method} {route[0]}" if route else f"{method} {path}"
        self.counts[endpoint] += 1
        for fault in list(self._faults):
            if fault.endpoint in (None, endpoint):
                return self._fail(fault.mode)
        try:
            if route is None:
                raise ApiError(400, _err(7000, "No route for that URI"))
            template, params, action = route
            if action is None:
                raise ApiError(405, _err(10000, f"{method} method not allowed for the "
                                                "api_token authentication scheme"))
            auth = self._authenticate(headers, verify=(template == "/user/tokens/verify"))
            payload = _json_body(body) if method in ("POST", "PUT", "PATCH") else {}
            with self._lock:
                status, result, info, messages = action(self, auth, path, params, dict(query),
                                                        payload)
        except ApiError as exc:
            return _answer(exc.status, None, exc.errors)
        return _answer(status, result, [], info, messages)

    def _fail(self, mode: FaultMode) -> tuple[int, bytes | None]:
        if mode == "hang":
            self._release.wait(_HANG_LIMIT)
            return 0, None
        if mode == "garbage":
            return 200, b"<html><body>502 Bad Gateway</body></html>\x00\xff"
        return 500, json.dumps({"success": False, "errors": [
            _err(10001, "Internal Server Error")], "messages": [], "result": None}).encode()

    def _authenticate(self, headers: dict[str, str], *, verify: bool) -> Token:
        authorization = headers.get("authorization")
        email, key = headers.get("x-auth-email"), headers.get("x-auth-key")
        if authorization is None and verify and (email or key):
            raise ApiError(400, _err(1001, 'Missing "Authorization" header'))
        if authorization is None:
            if email is None or key is None:
                raise ApiError(400, _err(9106, "Missing X-Auth-Key, X-Auth-Email or "
                                               "Authorization headers"))
            if not _LEGACY_KEY.fullmatch(key):
                raise ApiError(400, _err(6003, "Invalid request headers",
                                         [_err(6103, "Invalid format for X-Auth-Key header")]))
            if (email, key) not in self._legacy:
                raise ApiError(403, _err(9103, "Unknown X-Auth-Key or X-Auth-Email"))
            return Token(value="", id="legacy")
        scheme, _, value = authorization.partition(" ")
        if scheme != "Bearer" or not _TOKEN.fullmatch(value):
            raise ApiError(400, _err(6003, "Invalid request headers",
                                     [_err(6111, "Invalid format for Authorization header")]))
        token = self._tokens.get(value)
        if verify:
            if token is None:
                raise ApiError(401, _err(1000, "Invalid API Token"))
            return token
        if token is None or token.status != "active":
            raise ApiError(403, _err(10000, "Authentication error"))
        return token

    # -- endpoints ------------------------------------------------------------

    def _zone(self, auth: Token, path: str, zone_id: str) -> Zone:
        zone = self._zones.get(zone_id) if _ID.fullmatch(zone_id) else None
        if zone is None:
            raise _no_route(path)
        if not auth.reaches(zone.name):
            raise ApiError(403, _err(10000, "Authentication error"))
        return zone

    def _verify(self, auth: Token, *_: Any) -> _Result:
        result: Json = {"id": auth.id, "status": auth.status}
        if auth.status != "active":
            return 200, result, None, [{"code": 10000, "message": "This API Token is "
                                        f"{auth.status}", "type": None}]
        return 200, result, None, [{"code": 10000, "message": "This API Token is valid and "
                                    "active", "type": None}]

    def _list_zones(self, auth: Token, _path: str, _params: dict[str, str],
                    query: dict[str, str], _body: Json) -> _Result:
        zones = [z for z in self._zones.values() if auth.reaches(z.name)]
        wanted = query.get("name")
        if wanted:
            zones = [z for z in zones if _zone_name_matches(z.name, wanted)]
        if query.get("status"):
            zones = [z for z in zones if z.status == query["status"]]
        zones.sort(key=lambda z: z.name, reverse=query.get("direction") == "desc")
        page, info = _page(query, len(zones), _ZONES_PER_PAGE)
        return 200, [z.as_json() for z in page(zones)], info, []

    def _get_zone(self, auth: Token, path: str, params: dict[str, str], *_: Any) -> _Result:
        return 200, self._zone(auth, path, params["zone_id"]).as_json(), None, []

    def _list_records(self, auth: Token, path: str, params: dict[str, str],
                      query: dict[str, str], _body: Json) -> _Result:
        zone = self._zone(auth, path, params["zone_id"])
        tests = _record_filters(query)
        match_any = query.get("match") == "any"
        records = [r for r in zone.records.values()
                   if not tests or (any if match_any else all)(t(r) for t in tests)]
        order = query.get("order", "type")
        if order not in ("type", "name", "content", "ttl", "proxied"):
            raise ApiError(400, _err(1004, "DNS Validation Error",
                                     [_err(9000, "Invalid order parameter")]))
        records = _sorted(records, order, query.get("direction", "asc"))
        page, info = _page(query, len(records), _RECORDS_PER_PAGE)
        return 200, [_public(zone, r) for r in page(records)], info, []

    def _create_record(self, auth: Token, path: str, params: dict[str, str],
                       _query: dict[str, str], body: Json) -> _Result:
        zone = self._zone(auth, path, params["zone_id"])
        record = self._build(zone, body, None)
        _check_conflicts(zone, record)
        zone.records[record["id"]] = record
        return 200, _public(zone, record), None, []

    def _record(self, auth: Token, path: str, params: dict[str, str]) -> tuple[Zone, Json]:
        zone = self._zone(auth, path, params["zone_id"])
        record_id = params["record_id"]
        if not _ID.fullmatch(record_id):
            raise _no_route(path)
        record = zone.records.get(record_id)
        if record is None:
            raise ApiError(404, _err(81044, "Record does not exist."))
        return zone, record

    def _get_record(self, auth: Token, path: str, params: dict[str, str], *_: Any) -> _Result:
        zone, record = self._record(auth, path, params)
        return 200, _public(zone, record), None, []

    def _put_record(self, auth: Token, path: str, params: dict[str, str],
                    _query: dict[str, str], body: Json) -> _Result:
        zone, record = self._record(auth, path, params)
        updated = _overwrite(zone, record, body, self._build)
        zone.records[updated["id"]] = updated
        return 200, _public(zone, updated), None, []

    def _patch_record(self, auth: Token, path: str, params: dict[str, str],
                      _query: dict[str, str], body: Json) -> _Result:
        zone, record = self._record(auth, path, params)
        updated = _merge(zone, record, body, self._build)
        zone.records[updated["id"]] = updated
        return 200, _public(zone, updated), None, []

    def _delete_record(self, auth: Token, path: str, params: dict[str, str],
                       *_: Any) -> _Result:
        zone, record = self._record(auth, path, params)
        del zone.records[record["id"]]
        return 200, {"id": record["id"]}, None, []

    def _batch(self, auth: Token, path: str, params: dict[str, str],
               _query: dict[str, str], body: Json) -> _Result:
        zone = self._zone(auth, path, params["zone_id"])
        lists = {}
        for key in ("deletes", "patches", "puts", "posts"):
            value = body.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ApiError(400, _err(9207, "Request body is invalid."))
            lists[key] = value
        total = sum(len(v) for v in lists.values())
        if total > self.batch_limit:
            raise _invalid(81999, f"Batch of {total} operations exceeds the limit of "
                                  f"{self.batch_limit} for this zone's plan.")
        work = copy.deepcopy(zone.records)  # the transaction: committed only at the end
        staged = Zone(zone.id, zone.name, zone.status, zone.name_servers, zone.created_on, work)
        done: dict[str, list[Json]] = {key: [] for key in lists}
        for op in lists["deletes"]:
            record = _existing(staged, op)
            del work[record["id"]]
            done["deletes"].append(_public(zone, record))
        for key, change in (("patches", _merge), ("puts", _overwrite)):
            for op in lists[key]:
                updated = change(staged, _existing(staged, op), op, self._build)
                work[updated["id"]] = updated
                done[key].append(_public(zone, updated))
        for op in lists["posts"]:
            record = self._build(staged, op, None)
            _check_conflicts(staged, record)
            work[record["id"]] = record
            done["posts"].append(_public(zone, record))
        zone.records = work
        return 200, done, None, []

    # -- records ----------------------------------------------------------------

    def _build(self, zone: Zone, fields: Json, base: Json | None) -> Json:
        """A validated stored record from request ``fields`` (over ``base`` for PATCH)."""
        merged: Json = dict(base or {})
        for key in ("name", "type", "content", "data", "priority", "ttl", "proxied",
                    "comment", "tags"):
            if key in fields and not (key in ("content", "data") and fields[key] is None):
                merged[key] = fields[key]
        if base is not None and "type" in fields and fields["type"] != base.get("type"):
            # A new type: the old type's content/data do not carry over.
            for key in ("content", "data", "priority"):
                if key not in fields:
                    merged.pop(key, None)
        if base is not None and "data" in fields and "content" not in fields:
            merged.pop("content", None)
        if base is not None and "content" in fields and "data" not in fields:
            merged.pop("data", None)
        rtype = merged.get("type")
        if not isinstance(rtype, str) or not rtype:
            raise _invalid(9101, "DNS record type is required.")
        rtype = rtype.upper()
        if rtype not in _SUPPORTED:
            raise _invalid(9008, f"Invalid DNS record type {rtype}.")
        name = _owner(zone, merged.get("name"))
        ttl = merged.get("ttl", 1)
        if isinstance(ttl, bool) or not isinstance(ttl, int):
            raise _invalid(9022, "TTL must be a number, not a string.")
        if ttl != 1 and not 60 <= ttl <= 86400:
            raise _invalid(9021, "TTL must be between 60 and 86400 seconds, or 1 for Automatic.")
        proxied = merged.get("proxied", False)
        if not isinstance(proxied, bool):
            raise _invalid(9003, "Proxied must be a boolean.")
        if proxied and rtype not in _PROXIABLE:
            raise _invalid(9004, "This record type cannot be proxied.")
        comment = merged.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 100):
            raise _invalid(9102, "Comment must be a string of at most 100 characters.")
        tags = merged.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _invalid(9103, "Tags must be a list of strings.")
        content, data, priority = _rdata_fields(rtype, merged)
        now = _now()
        record: Json = {
            "id": base["id"] if base else _new_id(), "name": name, "type": rtype,
            "content": content, "data": data, "priority": priority,
            "proxied": proxied, "ttl": 1 if proxied else ttl, "comment": comment,
            "tags": list(tags), "created_on": base["created_on"] if base else now,
            "modified_on": now,
        }
        return record


_Result = tuple[int, Any, Json | None, list[Json]]
_Action = Callable[..., _Result]


def _route(method: str, path: str) -> tuple[str, dict[str, str], _Action | None] | None:
    """(template, path parameters, action or None for a wrong method); None if no route."""
    for pattern, template, actions in _ROUTES:
        found = pattern.fullmatch(path)
        if found:
            return template, found.groupdict(), actions.get(method)
    return None


_ROUTES: list[tuple[re.Pattern[str], str, dict[str, _Action]]] = [
    (re.compile(r"/user/tokens/verify"), "/user/tokens/verify",
     {"GET": CloudflareSimulator._verify}),
    (re.compile(r"/zones"), "/zones", {"GET": CloudflareSimulator._list_zones}),
    (re.compile(r"/zones/(?P<zone_id>[^/]+)"), "/zones/{zone_id}",
     {"GET": CloudflareSimulator._get_zone}),
    (re.compile(r"/zones/(?P<zone_id>[^/]+)/dns_records"), "/zones/{zone_id}/dns_records",
     {"GET": CloudflareSimulator._list_records, "POST": CloudflareSimulator._create_record}),
    (re.compile(r"/zones/(?P<zone_id>[^/]+)/dns_records/batch"),
     "/zones/{zone_id}/dns_records/batch", {"POST": CloudflareSimulator._batch}),
    (re.compile(r"/zones/(?P<zone_id>[^/]+)/dns_records/(?P<record_id>[^/]+)"),
     "/zones/{zone_id}/dns_records/{record_id}",
     {"GET": CloudflareSimulator._get_record, "PUT": CloudflareSimulator._put_record,
      "PATCH": CloudflareSimulator._patch_record,
      "DELETE": CloudflareSimulator._delete_record}),
]


def _answer(status: int, result: Any, errors: list[Json], info: Json | None = None,
            messages: list[Json] | None = None) -> tuple[int, bytes]:
    body: Json = {"success": not errors, "errors": errors, "messages": messages or [],
                  "result": result}
    if info is not None:
        body["result_info"] = info
    return status, json.dumps(body).encode()


def _json_body(body: bytes) -> Json:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(400, _err(9207, "Request body is invalid.")) from None
    if not isinstance(value, dict):
        raise ApiError(400, _err(9207, "Request body is invalid."))
    return value


def _int_param(query: dict[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, _err(1001, f"Invalid {key} parameter")) from None
    if not value.is_integer():
        raise ApiError(400, _err(1001, f"Invalid {key} parameter"))
    return int(value)


def _page(query: dict[str, str], total: int, limits: tuple[int, int, int]
          ) -> tuple[Callable[[list[Any]], list[Any]], Json]:
    low, high, default = limits
    per_page = min(max(_int_param(query, "per_page", default), low), high)
    page = max(_int_param(query, "page", 1), 1)
    start = (page - 1) * per_page
    count = max(0, min(per_page, total - start))
    info = {"page": page, "per_page": per_page, "count": count, "total_count": total,
            "total_pages": math.ceil(total / per_page)}
    return (lambda items: items[start:start + per_page]), info


def _zone_name_matches(name: str, wanted: str) -> bool:
    wanted = wanted.lower()
    for prefix, test in (("contains:", str.__contains__), ("starts_with:", str.startswith),
                         ("ends_with:", str.endswith)):
        if wanted.startswith(prefix):
            return bool(test(name, wanted[len(prefix):]))
    return name == wanted.rstrip(".")


def _record_filters(query: dict[str, str]) -> list[Callable[[Json], bool]]:
    tests: list[Callable[[Json], bool]] = []
    if query.get("type"):
        wanted_type = query["type"].upper()
        tests.append(lambda r: bool(r["type"] == wanted_type))
    for key, value_of in (("name", lambda r: r["name"]), ("content", _shown_content)):
        for suffix, test in (("", str.__eq__), (".exact", str.__eq__),
                             (".contains", str.__contains__), (".startswith", str.startswith),
                             (".endswith", str.endswith)):
            raw = query.get(key + suffix)
            if raw is None:
                continue
            wanted = raw.lower()
            if key == "name" and suffix in ("", ".exact"):
                wanted = wanted.rstrip(".")
            tests.append(lambda r, v=value_of, t=test, w=wanted: bool(t(str(v(r)).lower(), w)))
    if query.get("proxied") in ("true", "false"):
        flag = query["proxied"] == "true"
        tests.append(lambda r: bool(r["proxied"] == flag))
    return tests


def _sorted(records: Any, order: str, direction: str) -> list[Json]:
    def key(r: Json) -> tuple[Any, ...]:
        first = _shown_content(r) if order == "content" else r[order]
        return (first, r["type"], r["name"], _shown_content(r), r["id"])
    return sorted(records, key=key, reverse=direction == "desc")


def _owner(zone: Zone, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _invalid(9000, "DNS name is invalid.")
    name = raw.strip().lower().rstrip(".")
    if name == "@":
        name = zone.name
    elif name != zone.name and not name.endswith("." + zone.name):
        name = f"{name}.{zone.name}"
    labels = name.split(".")
    if (len(name) > 253 or any(not _LABEL.fullmatch(label) and not label.startswith("xn--")
                               for label in labels)
            or "*" in labels[1:]):
        raise _invalid(9000, "DNS name is invalid.")
    return name


def _hostname(value: Any, rtype: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(9007, f"Content for {rtype} record is invalid.")
    text = value.strip()
    try:
        dns.name.from_text(text)
    except dns.exception.DNSException:
        raise _invalid(9007, f"Content for {rtype} record is invalid.") from None
    return text if text == "." else text.rstrip(".")


def _rdata_fields(rtype: str, merged: Json) -> tuple[str, Json | None, int | None]:
    """(content, data, priority) for a record of ``rtype``, validated."""
    content = merged.get("content")
    if rtype == "A" or rtype == "AAAA":
        family = ipaddress.IPv4Address if rtype == "A" else ipaddress.IPv6Address
        try:
            return str(family(str(content))), None, None
        except ValueError:
            code, kind = (9005, "IPv4") if rtype == "A" else (9006, "IPv6")
            raise _invalid(code, f"Content for {rtype} record must be a valid {kind} "
                                 "address.") from None
    if rtype in ("CNAME", "NS", "PTR"):
        return _hostname(content, rtype), None, None
    if rtype == "MX":
        priority = merged.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int) \
                or not 0 <= priority <= 65535:
            raise _invalid(9111, "MX records require a priority between 0 and 65535.")
        return _hostname(content, rtype), None, priority
    if rtype == "TXT":
        if not isinstance(content, str) or not content:
            raise _invalid(9009, "Content for TXT record is invalid.")
        if len(content) > _TXT_MAX_CONTENT:
            raise _invalid(9100, f"Content for TXT record must be at most {_TXT_MAX_CONTENT} "
                                 "characters.")
        return content, None, None
    rdata = _structured(rtype, merged.get("data"), content)
    data = _data_of(rtype, rdata)
    priority = data["priority"] if rtype == "SRV" else None
    return _content_of(rtype, data, rdata), data, priority


def _structured(rtype: str, data: Any, content: Any) -> dns.rdata.Rdata:
    if isinstance(data, dict):
        missing = [f for f in _DATA_FIELDS[rtype] if data.get(f) is None
                   and not (f == "value" and rtype in ("HTTPS", "SVCB"))]
        if missing:
            raise _invalid(9101, f"{rtype} data is missing {', '.join(missing)}.")
        text = _text_of(rtype, data)
    elif isinstance(content, str) and content.strip():
        text = content
    else:
        raise _invalid(9101, f"{rtype} record requires data or content.")
    try:
        return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text,
                                   origin=dns.name.root, relativize=False)
    except (dns.exception.DNSException, ValueError, TypeError):
        raise _invalid(9101, f"Invalid {rtype} record data.") from None


def _quote(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _absolute(name: Any) -> str:
    text = str(name).strip()
    return text if text.endswith(".") else text + "."


def _text_of(rtype: str, d: Json) -> str:
    """Presentation text from Cloudflare's ``data`` components."""
    if rtype == "SRV":
        return f"{d['priority']} {d['weight']} {d['port']} {_absolute(d['target'])}"
    if rtype == "CAA":
        return f"{d['flags']} {d['tag']} {_quote(d['value'])}"
    if rtype == "NAPTR":
        return (f"{d['order']} {d['preference']} {_quote(d['flags'])} {_quote(d['service'])} "
                f"{_quote(d['regex'])} {_absolute(d['replacement'])}")
    if rtype in ("HTTPS", "SVCB"):
        return f"{d['priority']} {_absolute(d['target'])} {d.get('value') or ''}".strip()
    return " ".join(str(d[f]) for f in _DATA_FIELDS[rtype])


def _bare(name: Any) -> str:
    text = str(name)
    return text if text == "." else text.rstrip(".")


def _data_of(rtype: str, rd: Any) -> Json:
    if rtype == "SRV":
        return {"priority": rd.priority, "weight": rd.weight, "port": rd.port,
                "target": _bare(rd.target)}
    if rtype == "CAA":
        return {"flags": rd.flags, "tag": rd.tag.decode(), "value": rd.value.decode()}
    if rtype == "DS":
        return {"key_tag": rd.key_tag, "algorithm": int(rd.algorithm),
                "digest_type": int(rd.digest_type), "digest": rd.digest.hex().upper()}
    if rtype == "SSHFP":
        return {"algorithm": rd.algorithm, "type": rd.fp_type,
                "fingerprint": rd.fingerprint.hex()}
    if rtype == "TLSA":
        return {"usage": rd.usage, "selector": rd.selector, "matching_type": rd.mtype,
                "certificate": rd.cert.hex()}
    if rtype == "NAPTR":
        return {"order": rd.order, "preference": rd.preference, "flags": rd.flags.decode(),
                "service": rd.service.decode(), "regex": rd.regexp.decode(),
                "replacement": _bare(rd.replacement)}
    # HTTPS / SVCB: the SvcParams stay one presentation string, as Cloudflare keeps them.
    params = rd.to_text().split(" ", 2)
    return {"priority": rd.priority, "target": _bare(rd.target),
            "value": params[2] if len(params) > 2 else ""}


def _content_of(rtype: str, data: Json, rd: Any) -> str:
    if rtype == "SRV":
        return f"{data['priority']} {data['weight']} {data['port']} {data['target']}"
    if rtype == "CAA":
        return f"{data['flags']} {data['tag']} {_quote(data['value'])}"
    return str(rd.to_text())


def _shown_content(record: Json) -> str:
    return str(record["content"])


def _public(zone: Zone, r: Json) -> Json:
    out: Json = {
        "id": r["id"], "zone_id": zone.id, "zone_name": zone.name, "name": r["name"],
        "type": r["type"], "content": r["content"], "proxiable": r["type"] in _PROXIABLE,
        "proxied": r["proxied"], "ttl": r["ttl"], "settings": {},
        "meta": {"auto_added": False, "managed_by_apps": False,
                 "managed_by_argo_tunnel": False},
        "comment": r["comment"], "tags": list(r["tags"]), "created_on": r["created_on"],
        "modified_on": r["modified_on"],
    }
    if r["priority"] is not None:
        out["priority"] = r["priority"]
    if r["data"] is not None:
        out["data"] = dict(r["data"])
    return out


def _identity(r: Json) -> tuple[str, str, str]:
    return (r["name"], r["type"], _served(r).lower())


def _check_conflicts(zone: Zone, record: Json) -> None:
    """81058 for a duplicate; 81053/81054 when a CNAME would share its name."""
    others = [r for r in zone.records.values()
              if r["id"] != record["id"] and r["name"] == record["name"]]
    if any(_identity(r) == _identity(record) for r in others):
        raise ApiError(400, _err(81058, "An identical record already exists."))
    if record["type"] == "CNAME" and others:
        raise ApiError(400, _err(81053, "An A, AAAA, or CNAME record with that host already "
                                        "exists."))
    if any(r["type"] == "CNAME" for r in others):
        raise ApiError(400, _err(81054, "A CNAME record with that host already exists."))


def _existing(zone: Zone, op: Json) -> Json:
    record_id = op.get("id")
    if not isinstance(record_id, str) or not _ID.fullmatch(record_id):
        raise _no_route(f"/zones/{zone.id}/dns_records/{record_id}")
    record = zone.records.get(record_id)
    if record is None:
        raise ApiError(404, _err(81044, "Record does not exist."))
    return record


_Build = Callable[..., Json]


def _merge(zone: Zone, record: Json, fields: Json, build: _Build) -> Json:
    """PATCH: the fields given change, every other field stays as it is."""
    updated = build(zone, fields, record)
    _check_conflicts(zone, updated)
    return updated


def _overwrite(zone: Zone, record: Json, fields: Json, build: _Build) -> Json:
    """PUT: the record becomes exactly the fields given (defaults for the rest)."""
    for key in ("name", "type"):
        if key not in fields:
            raise _invalid(9101, f"DNS record {key} is required.")
    base = {"id": record["id"], "created_on": record["created_on"]}
    updated = build(zone, fields, base)
    _check_conflicts(zone, updated)
    return updated


def txt_strings(content: str) -> list[bytes]:
    """The character-strings Cloudflare serves for TXT ``content``: quoted
    strings as written, other text as one string; split at 255 octets."""
    text = content.strip()
    strings: list[bytes] = []
    if text.startswith('"'):
        try:
            tok = dns.tokenizer.Tokenizer(text)
            while True:
                token = tok.get()
                if token.is_eol_or_eof():
                    break
                if not token.is_quoted_string():
                    raise ValueError("not a quoted string")
                strings.append(token.unescape_to_bytes().value)
        except (dns.exception.DNSException, ValueError):
            strings = [content.encode()]
    else:
        strings = [content.encode()]
    out: list[bytes] = []
    for string in strings:
        out.extend(string[i:i + _TXT_CHUNK] for i in range(0, len(string), _TXT_CHUNK))
        if not string:
            out.append(b"")
    return out


def _served(r: Json) -> str:
    """Presentation rdata of what Cloudflare would answer for the record."""
    rtype = r["type"]
    if rtype == "TXT":
        rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT,
                                        txt_strings(r["content"]))
        return str(rdata.to_text())
    if rtype == "MX":
        return f"{r['priority']} {_absolute(r['content'])}"
    if rtype in _NAME_CONTENT:
        return _absolute(r["content"])
    if r["data"] is not None:
        return _text_of(rtype, r["data"])
    return str(r["content"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and the
    # peer's delayed ACK add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.simulator._connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.simulator._connections.discard(self.connection)  # type: ignore[attr-defined]
        super().finish()

    def _serve(self) -> None:
        simulator: CloudflareSimulator = self.server.simulator  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload = simulator.handle(self.command, self.path, headers, body)
        if payload is None:
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
