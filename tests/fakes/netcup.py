"""A simulator of netcup's CCP DNS API (the JSON endpoint), served on loopback.

netcup cannot run here, so tests talk to this instead: one endpoint,
``POST /run/webservice/servers/endpoint.php?JSON`` with a body
``{"action": ..., "param": {...}}``, answered with HTTP 200 and a
*Responsemessage* ``{"serverrequestid", "clientrequestid", "action",
"status", "statuscode", "shortmessage", "longmessage", "responsedata"}`` --
also for errors, which are ``status: "error"`` with a 4xxx/5xxx
``statuscode``.

Where each behaviour comes from:

Documented (endpoint.php and its generated PHP SOAP client):
  ``login`` (customernumber, apikey, apipassword -> ``apisessionid``),
  ``logout``, ``infoDnsZone`` (Dnszone: name, ttl, serial, refresh, retry,
  expire, dnssecstatus; serial read-only), ``infoDnsRecords``,
  ``updateDnsRecords`` ("Update DNS records of a zone. Deletion of other
  records is optional": a Dnsrecordset ``{"dnsrecords": [Dnsrecord...]}``;
  a record without id is created, one with id updated, one with
  ``deleterecord: true`` deleted, records not sent are untouched),
  ``updateDnsZone``. Dnsrecord: id ("leave id empty for new records"),
  hostname ("Use '@' for root of domain", relative to the zone), type,
  priority ("Required for MX records"), destination, deleterecord, state
  (read only; ``yes`` once deployed, ``unknown`` otherwise). One TTL per
  zone (Dnszone.ttl); records have none.

Observed in real answers quoted in public client code and issue threads:
  numbers are JSON strings (``"id": "5852469"``, ``"priority": "0"``,
  ``"ttl": "86400"``); ``updateDnsRecords`` answers the zone's full record
  list; ``4001`` "Api session id in invalid format" / "The session id is not
  in a valid format." for an unknown or expired session (sessions expire
  after inactivity -- 15 minutes by the docs, often sooner in practice);
  wrong login credentials give ``4013`` "Validation Error." with netcup's
  misleading "More than 180 requests per minute..." text (nc_dnsapi #5/#7);
  ``5029`` for ``infoDnsRecords`` on a zone without records (an error, not
  an empty list); ``5028`` "Update of DNS records failed" / "Can not update
  (all) DNS records for zone. The zone X could not be found."; ``4013``
  "Value in field domainname does not match requirements of type:
  domainname. " (with an empty ``action``) for a malformed domain; ``4013``
  "Api key missing. JSON decode failed while validating request." for a
  body that is not JSON; a TXT destination is the text *between* the quotes
  netcup adds itself ("Please put quotation marks in front of a backslash.
  The name server automatically sets quotation marks at the beginning and
  end."); names in destinations are fully qualified with or without the
  trailing dot (dnscontrol); an SRV destination holds all four fields
  "priority weight port target" (dnscontrol), the priority field being MX's.

Modelled where nothing is documented (kept deliberately strict):
  ``infoDnsZone`` of an unknown zone answers ``5026`` and ``infoDnsRecords``
  of one answers ``5029`` with "could not be found" -- the same code as an
  empty zone, so a client must not take 5029 for "empty" blindly;
  ``updateDnsRecords`` naming a record id that does not exist answers
  ``5028``; records are validated before anything is written (a validation
  error changes nothing) but then applied in order, so an unknown id stops
  the update *after* the records before it were applied -- the update is
  not atomic ("Can not update (all) DNS records").

Test controls: ``calls`` (a Counter of requests per action),
``requests`` (every action with its params), ``session_timeout`` (seconds
of inactivity; make it small to expire sessions), ``expire_sessions()``,
``fault(mode)`` (``error`` = HTTP 500, ``hang`` = never answer,
``garbage`` = 200 with a body that is not JSON, ``down`` = close the
connection), ``fail_next(action, ...)`` (one netcup-level error), and
``add_record``/``delete_record``/``set_zone_ttl`` to change a zone behind a
client's back as the CCP web interface would. Each request runs on its own
thread (``ThreadingHTTPServer``), so a hanging answer blocks nobody else.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

ENDPOINT_PATH = "/run/webservice/servers/endpoint.php"
#: Record types the DNS API accepts (netcup's ``recordtypes``).
RECORD_TYPES = frozenset({"A", "AAAA", "MX", "CNAME", "CAA", "SRV", "TXT", "TLSA", "NS", "DS",
                          "SSHFP", "OPENPGPKEY", "SMIMEA"})
Fault = Literal["error", "hang", "garbage", "down"]

SESSION_SHORT = "Api session id in invalid format"
SESSION_LONG = "The session id is not in a valid format."
VALIDATION = "Validation Error."
LOGIN_FAILED_LONG = ("More than 180 requests per minute. Please wait and retry later. Please "
                     "contact our customer service to find out if the limitation of requests "
                     "can be increased.")
TXT_QUOTES_LONG = ("Please put quotation marks in front of a backslash. The name server "
                   "automatically sets quotation marks at the beginning and end.")
HOSTNAME_LONG = "der Host darf nicht leer sein oder aus Sonderzeichen bestehen"
_TXT_CHUNK = 255
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?:@|\*|(?:\*\.)?{_LABEL}(?:\.{_LABEL})*)$")


class NetcupError(Exception):
    """One error answer: ``status: error`` with netcup's code and messages."""

    def __init__(self, code: int, short: str, long: str, *, action: str | None = None) -> None:
        super().__init__(f"{code} {short} {long}")
        self.code, self.short, self.long, self.action = code, short, long, action


@dataclass
class Record:
    id: str
    hostname: str
    type: str
    priority: str
    destination: str
    state: str = "yes"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "hostname": self.hostname, "type": self.type,
                "priority": self.priority, "destination": self.destination,
                "deleterecord": False, "state": self.state}


@dataclass
class Zone:
    name: str
    ttl: int = 86400
    serial: int = 0
    refresh: int = 28800
    retry: int = 7200
    expire: int = 1209600
    dnssecstatus: bool = False
    records: list[Record] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ttl": str(self.ttl), "serial": str(self.serial),
                "refresh": str(self.refresh), "retry": str(self.retry),
                "expire": str(self.expire), "dnssecstatus": self.dnssecstatus}

    def bump(self) -> None:
        today = int(datetime.now(UTC).strftime("%Y%m%d")) * 100
        self.serial = max(self.serial + 1, today)


@dataclass
class _FaultRule:
    mode: Fault
    actions: frozenset[str] | None
    remaining: int | None


@dataclass
class _Session:
    customer: str
    apikey: str
    last_used: float


class NetcupSimulator:
    """One netcup customer account with its API credentials and DNS zones."""

    def __init__(self, *, customer_number: str = "123456", api_key: str | None = None,
                 api_password: str | None = None, session_timeout: float = 900.0,
                 hang_seconds: float = 60.0) -> None:
        self.customer_number = customer_number
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.api_password = api_password or secrets.token_urlsafe(24)
        self.session_timeout = session_timeout
        self.hang_seconds = hang_seconds
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._zones: dict[str, Zone] = {}
        self._sessions: dict[str, _Session] = {}
        self._faults: list[_FaultRule] = []
        self._failures: dict[str, list[NetcupError]] = {}
        self._ids = itertools.count(4_000_000 + secrets.randbelow(1_000_000))
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> NetcupSimulator:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.simulator = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                        name="netcup-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> NetcupSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "simulator not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The JSON endpoint, as netcup documents it (``...endpoint.php?JSON``)."""
        return f"http://127.0.0.1:{self.port}{ENDPOINT_PATH}?JSON"

    # -- test controls -----------------------------------------------------

    def add_zone(self, name: str, *, ttl: int = 86400,
                 records: Iterable[Sequence[str]] = ()) -> None:
        """A zone in this account; records are (hostname, type, destination[, priority])."""
        with self._lock:
            zone = Zone(name.lower(), ttl=ttl)
            zone.bump()
            self._zones[zone.name] = zone
            for rec in records:
                self.add_record(zone.name, *rec)

    def zone_names(self) -> list[str]:
        with self._lock:
            return sorted(self._zones)

    def add_record(self, zone: str, hostname: str, rtype: str, destination: str,
                   priority: str = "0") -> str:
        """Create a record as the CCP web interface would; returns its id."""
        with self._lock:
            found = self._zones[zone]
            record = Record(str(next(self._ids)), hostname, rtype, priority, destination)
            found.records.append(record)
            found.bump()
            return record.id

    def delete_record(self, zone: str, record_id: str) -> None:
        with self._lock:
            found = self._zones[zone]
            found.records = [r for r in found.records if r.id != record_id]
            found.bump()

    def set_zone_ttl(self, zone: str, ttl: int) -> None:
        with self._lock:
            self._zones[zone].ttl = ttl

    def zone_ttl(self, zone: str) -> int:
        with self._lock:
            return self._zones[zone].ttl

    def records(self, zone: str) -> list[dict[str, Any]]:
        """The zone's records as ``infoDnsRecords`` would list them."""
        with self._lock:
            return [r.as_json() for r in self._zones[zone].records]

    def rdata(self, zone: str, owner: str, rtype: str) -> list[str]:
        """Zone-file rdata the name servers would serve for (owner, type)."""
        owner = owner.lower().rstrip(".")
        with self._lock:
            found = self._zones[zone]
            return [render(found.name, r) for r in found.records
                    if r.type == rtype and owner_of(found.name, r.hostname) == owner]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self.requests.clear()

    def sent(self, action: str) -> list[dict[str, Any]]:
        """The params of every request of ``action`` so far."""
        with self._lock:
            return [param for name, param in self.requests if name == action]

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    def session_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def fail_next(self, action: str, code: int, short: str, long: str) -> None:
        """Answer the next ``action`` request with this netcup error."""
        with self._lock:
            self._failures.setdefault(action, []).append(NetcupError(code, short, long))

    @contextlib.contextmanager
    def fault(self, mode: Fault, *, actions: Iterable[str] | None = None,
              times: int | None = None) -> Iterator[None]:
        """Fail requests (of ``actions``, or all) in ``mode`` inside the block."""
        rule = _FaultRule(mode, frozenset(actions) if actions is not None else None, times)
        with self._lock:
            self._faults.append(rule)
        try:
            yield
        finally:
            with self._lock:
                if rule in self._faults:
                    self._faults.remove(rule)

    # -- request handling --------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        path = handler.path.partition("?")[0]
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if handler.command != "POST" or path != ENDPOINT_PATH:
            handler.send_body(404, b"Not Found", "text/plain")
            return
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            request = None
        action = request.get("action") if isinstance(request, dict) else None
        action = action if isinstance(action, str) else ""
        param = request.get("param") if isinstance(request, dict) else None
        with self._lock:
            self.calls[action] += 1
            self.requests.append((action, copy.deepcopy(param) if isinstance(param, dict) else {}))
            fault = self._take_fault(action)
        if fault is not None:
            self._fail(handler, fault)
            return
        client_id = param.get("clientrequestid", "") if isinstance(param, dict) else ""
        try:
            if request is None:
                raise NetcupError(4013, VALIDATION, "Api key missing. JSON decode failed while "
                                  "validating request.", action="")
            with self._lock:
                short, long, data = self._dispatch(action, param)
            answer = _message(action, "success", 2000, short, long, data, client_id)
        except NetcupError as exc:
            answer = _message(action if exc.action is None else exc.action, "error", exc.code,
                              exc.short, exc.long, "", client_id)
        handler.send_body(200, json.dumps(answer).encode(), "application/json")

    def _take_fault(self, action: str) -> Fault | None:
        for rule in self._faults:
            if rule.actions is None or action in rule.actions:
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._faults.remove(rule)
                return rule.mode
        return None

    def _fail(self, handler: _Handler, mode: Fault) -> None:
        handler.close_connection = True
        if mode == "error":
            handler.send_body(500, b"<html><body>500 Internal Server Error</body></html>",
                              "text/html")
        elif mode == "garbage":
            handler.send_body(200, b"<html>Wartungsarbeiten</html>\x00\xff", "application/json")
        elif mode == "hang":
            self._stopping.wait(self.hang_seconds)
        # "down": close without an answer

    def _dispatch(self, action: str, param: Any) -> tuple[str, str, Any]:
        if not isinstance(param, dict):
            raise NetcupError(4013, VALIDATION, "Api key missing.")
        injected = self._failures.get(action)
        if injected:
            raise injected.pop(0)
        if action == "login":
            return self._login(param)
        if action not in _SESSION_ACTIONS:
            raise NetcupError(4013, VALIDATION, f"Action {action!r} is not available.")
        session_id = self._check_session(param)
        if action == "logout":
            self._sessions.pop(session_id, None)
            return "Logout successful", "Session has been terminated successful.", ""
        zone_name = _domainname(param)
        if action == "updateDnsRecords":
            zone = self._zone(zone_name, 5028, "Update of DNS records failed",
                              "Can not update (all) DNS records for zone.")
            return self._update_records(zone, param)
        if action == "updateDnsZone":
            zone = self._zone(zone_name, 5026, "Update of DNS zone failed",
                              "Can not update DNS zone.")
            return self._update_zone(zone, param)
        if action == "infoDnsZone":
            zone = self._zone(zone_name, 5026, "Getting DNS zone failed", "Can not get DNS zone.")
            return "DNS zone found", "DNS zone was found.", zone.as_json()
        zone = self._zone(zone_name, 5029, "Getting DNS records failed",
                          "Can not get DNS records for zone.")
        if not zone.records:
            raise NetcupError(5029, "Getting DNS records failed",
                              f"Can not get DNS records for zone.  The zone does not {zone.name} "
                              "contain any DNS records.")
        return ("DNS records found", "DNS Records for this zone were found.",
                {"dnsrecords": [r.as_json() for r in zone.records]})

    def _login(self, param: dict[str, Any]) -> tuple[str, str, Any]:
        customer, apikey, password = (str(param.get(key) or "") for key in
                                      ("customernumber", "apikey", "apipassword"))
        if not apikey:
            raise NetcupError(4013, VALIDATION, "Api key missing.")
        ok = (secrets.compare_digest(customer, self.customer_number)
              & secrets.compare_digest(apikey.encode(), self.api_key.encode())
              & secrets.compare_digest(password.encode(), self.api_password.encode()))
        if not ok:
            raise NetcupError(4013, VALIDATION, LOGIN_FAILED_LONG)
        session_id = secrets.token_urlsafe(24)
        self._sessions[session_id] = _Session(customer, apikey, time.monotonic())
        return ("Login successful", "Session has been created successful.",
                {"apisessionid": session_id})

    def _check_session(self, param: dict[str, Any]) -> str:
        session_id = str(param.get("apisessionid") or "")
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if session is not None and now - session.last_used > self.session_timeout:
            del self._sessions[session_id]
            session = None
        if (session is None or session.customer != str(param.get("customernumber") or "")
                or session.apikey != str(param.get("apikey") or "")):
            raise NetcupError(4001, SESSION_SHORT, SESSION_LONG)
        session.last_used = now
        return session_id

    def _zone(self, name: str, code: int, short: str, long: str) -> Zone:
        zone = self._zones.get(name)
        if zone is None:
            raise NetcupError(code, short, f"{long} The zone {name} could not be found.")
        return zone

    def _update_zone(self, zone: Zone, param: dict[str, Any]) -> tuple[str, str, Any]:
        wanted = param.get("dnszone")
        if not isinstance(wanted, dict):
            raise NetcupError(4013, VALIDATION, "Value in field dnszone does not match "
                              "requirements of type: Dnszone.")
        for key in ("ttl", "refresh", "retry", "expire"):
            if key in wanted:
                value = str(wanted[key])
                if not value.isdigit() or int(value) == 0:
                    raise NetcupError(4013, VALIDATION, f"Value in field {key} does not match "
                                      "requirements of type: positiveInteger.")
                setattr(zone, key, int(value))
        zone.bump()
        return "DNS zone was updated successfully.", "DNS zone was updated.", zone.as_json()

    def _update_records(self, zone: Zone, param: dict[str, Any]) -> tuple[str, str, Any]:
        recordset = param.get("dnsrecordset")
        wanted = recordset.get("dnsrecords") if isinstance(recordset, dict) else None
        if not isinstance(wanted, list) or not all(isinstance(r, dict) for r in wanted):
            raise NetcupError(4013, VALIDATION, "Value in field dnsrecordset does not match "
                              "requirements of type: Dnsrecordset.")
        checked = [_validated(zone.name, r) for r in wanted]  # nothing written on a bad one
        touched: set[str] = set()
        try:
            for record_id, delete, rec in checked:
                self._apply_one(zone, record_id, delete, rec, touched)
        finally:
            if touched:
                zone.bump()
        listing = []
        for r in zone.records:
            shown = r.as_json()
            if r.id in touched:
                shown["state"] = "unknown"  # not yet deployed to the name servers
            listing.append(shown)
        return ("DNS records successful updated",
                "The given DNS records for this zone were updated.", {"dnsrecords": listing})

    def _apply_one(self, zone: Zone, record_id: str | None, delete: bool,
                   rec: Record | None, touched: set[str]) -> None:
        if record_id is None:
            if delete:  # no id: delete the records it matches, if any
                assert rec is not None
                before = len(zone.records)
                zone.records = [r for r in zone.records if not _same(r, rec)]
                if len(zone.records) != before:
                    touched.add("")
                return
            assert rec is not None
            rec.id = str(next(self._ids))
            zone.records.append(rec)
            touched.add(rec.id)
            return
        index = next((i for i, r in enumerate(zone.records) if r.id == record_id), None)
        if index is None:
            raise NetcupError(5028, "Update of DNS records failed",
                              "Can not update (all) DNS records for zone. The DNS record with "
                              f"id {record_id} could not be found.")
        if delete:
            del zone.records[index]
            touched.add("")
            return
        assert rec is not None
        rec.id = record_id
        zone.records[index] = rec
        touched.add(record_id)


_SESSION_ACTIONS = frozenset({"logout", "infoDnsZone", "infoDnsRecords", "updateDnsRecords",
                              "updateDnsZone"})


def _message(action: str, status: str, code: int, short: str, long: str, data: Any,
             client_id: Any) -> dict[str, Any]:
    return {"serverrequestid": secrets.token_urlsafe(20), "clientrequestid": client_id or "",
            "action": action, "status": status, "statuscode": code, "shortmessage": short,
            "longmessage": long, "responsedata": data}


def _domainname(param: dict[str, Any]) -> str:
    name = str(param.get("domainname") or "").lower()
    if not _DOMAIN.match(name):
        raise NetcupError(4013, VALIDATION, "Value in field domainname does not match "
                          "requirements of type: domainname. ", action="")
    return name


def _field_error(name: str, kind: str) -> NetcupError:
    return NetcupError(4013, VALIDATION,
                       f"Value in field {name} does not match requirements of type: {kind}.")


def _validated(zone: str, raw: dict[str, Any]) -> tuple[str | None, bool, Record | None]:
    """(id or None, delete?, the record as it would be stored) or a 4013 error."""
    raw_id = raw.get("id")
    record_id = str(raw_id) if raw_id not in (None, "") else None
    if record_id is not None and not record_id.isdigit():
        raise _field_error("id", "positiveInteger")
    flag = raw.get("deleterecord", False)
    delete = flag is True or (isinstance(flag, str) and flag.lower() in ("true", "1"))
    if delete and record_id is not None:
        return record_id, True, None
    hostname = raw.get("hostname")
    if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
        raise NetcupError(4013, VALIDATION, HOSTNAME_LONG)
    rtype = raw.get("type")
    if not isinstance(rtype, str) or rtype.upper() not in RECORD_TYPES:
        raise _field_error("type", "recordtypes")
    rtype = rtype.upper()
    destination = raw.get("destination")
    if not isinstance(destination, str) or not destination.strip():
        raise _field_error("destination", "string")
    priority = "0"
    if rtype == "MX":
        priority = str(raw.get("priority") if raw.get("priority") is not None else "")
        if not priority.isdigit() or int(priority) > 65535:
            raise _field_error("priority", "string")
    record = Record("", hostname, rtype, priority, destination, state="yes")
    if rtype == "TXT":
        _check_txt(destination)
    try:
        dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype),
                            render(zone, record), origin=dns.name.root)
    except (dns.exception.DNSException, ValueError, TypeError):
        raise _field_error("destination", rtype) from None
    return record_id, delete, record


def _same(a: Record, b: Record) -> bool:
    return (a.hostname.lower(), a.type, a.destination) == (b.hostname.lower(), b.type,
                                                            b.destination)


# -- what the name servers make of a record ---------------------------------

def owner_of(zone: str, hostname: str) -> str:
    """The owner name (lowercase, no trailing dot) of a record's hostname."""
    return zone if hostname == "@" else f"{hostname}.{zone}".lower()


def render(zone: str, record: Record) -> str:
    """The record's rdata as netcup's zone file carries it."""
    dest = record.destination.strip()
    if record.type == "MX":
        return f"{record.priority} {_absolute(zone, dest)}"
    if record.type in ("CNAME", "NS"):
        return _absolute(zone, dest)
    if record.type == "SRV":
        parts = dest.split()
        if len(parts) == 3:  # weight port target, priority in its own field
            parts = [record.priority, *parts]
        if len(parts) == 4:
            return " ".join([*parts[:3], _absolute(zone, parts[3])])
        return dest
    if record.type == "TXT":
        return txt_zonefile(dest)
    return dest


def _absolute(zone: str, name: str) -> str:
    if name == "@":
        return f"{zone}."
    return name if name.endswith(".") else f"{name}."


def _check_txt(destination: str) -> None:
    escaped = False
    for char in destination:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            raise NetcupError(4013, VALIDATION, TXT_QUOTES_LONG)
    if escaped:
        raise NetcupError(4013, VALIDATION, TXT_QUOTES_LONG)


def txt_unescape(text: str) -> bytes:
    """The octets of a TXT destination (``\\"``, ``\\\\`` and ``\\DDD`` escapes)."""
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            digits = text[i + 1:i + 4]
            if len(digits) == 3 and digits.isdigit():
                out.append(int(digits) & 0xFF)
                i += 4
                continue
            out.extend(text[i + 1].encode())
            i += 2
            continue
        out.extend(char.encode())
        i += 1
    return bytes(out)


def txt_zonefile(destination: str) -> str:
    """netcup quotes the destination; text over 255 octets becomes several strings."""
    data = txt_unescape(destination)
    chunks = [data[i:i + _TXT_CHUNK] for i in range(0, len(data), _TXT_CHUNK)] or [b""]
    return " ".join('"' + _txt_escape(chunk) + '"' for chunk in chunks)


def _txt_escape(chunk: bytes) -> str:
    out = []
    for byte in chunk:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and the
    # peer's delayed ACK add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server_version = "Apache"
    sys_version = ""

    def do_POST(self) -> None:
        self.server.simulator.handle(self)  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self.server.simulator.handle(self)  # type: ignore[attr-defined]

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
