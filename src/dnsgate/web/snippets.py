"""Ready-to-paste client configurations for a freshly minted token.

Only shown with the token itself (once). Each snippet names a real client and
the dnsgate surface it speaks, and is offered only where the token can do
what the client will ask for:

=============  ===========================  ======================================
snippet        surface                      offered when
=============  ===========================  ======================================
curl           REST ``PUT .../rrsets``      always
ddclient       dyndns2 ``/nic/update``      A or AAAA
inadyn         dyndns2 (custom provider)    A or AAAA
router         dyndns2 URL with user:pass   A or AAAA
lego httpreq   ``/httpreq``                 TXT at ``_acme-challenge.<domain>``
lego pdns      PowerDNS API ``/pdns``       TXT at ``_acme-challenge.<domain>``
acme-dns       ``/acme-dns`` (account file) the same, unless the realm's own name
                                            is the ``_acme-challenge`` name
=============  ===========================  ======================================

The tests in ``tests/web/test_snippets.py`` run each one against the app.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from dnsgate.domain import tokens

CHALLENGE = "_acme-challenge."


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str
    title: str
    text: str


def _example_name(realm_name: str, kind: str, names: Sequence[str] | None) -> str:
    if names:
        return names[0]
    return f"www.{realm_name}" if kind == "below" else realm_name


def acme_domain(realm_name: str, kind: str, names: Sequence[str] | None = None) -> str | None:
    """The certificate name whose DNS-01 challenge (TXT at ``_acme-challenge.<it>``)
    the token may write, or None."""
    if names:
        only = names[0] if len(names) == 1 else ""
        return only.removeprefix(CHALLENGE) if only.startswith(CHALLENGE) else None
    if realm_name.startswith(CHALLENGE):
        return realm_name.removeprefix(CHALLENGE)
    # a host realm with TXT covers its own challenge name (see domain.policy)
    return realm_name


def snippets(origin: str, token: str, realm_name: str, zone: str, types: Sequence[str],
             kind: str = "host", names: Sequence[str] | None = None) -> list[Snippet]:
    """The snippets for a token of ``types`` (the token's own, else its realm's)
    and ``names`` (a token narrowed to names), in the order above."""
    name = _example_name(realm_name, kind, names)
    out = [_curl(origin, token, zone, name, types)]
    if "A" in types or "AAAA" in types:
        out += [_ddclient(origin, token, name), _inadyn(origin, token, name, types),
                _router(origin, token, name, types)]
    domain = acme_domain(realm_name, kind, names)
    if "TXT" in types and domain:
        out += [_lego_httpreq(origin, token, domain), _lego_pdns(origin, token, domain)]
        # the acme-dns facade writes to _acme-challenge.<realm> unless the token
        # names its one challenge name: a realm that *is* a challenge name gets none
        if names or not realm_name.startswith(CHALLENGE):
            out.append(_acme_dns(origin, token, domain))
    return out


def _curl(origin: str, token: str, zone: str, name: str, types: Sequence[str]) -> Snippet:
    rtype = next((t for t in ("A", "AAAA", "TXT") if t in types), types[0] if types else "A")
    data = {"A": "192.0.2.10", "AAAA": "2001:db8::10", "TXT": '\\"hello\\"'}.get(rtype, "...")
    return Snippet("curl", f"curl (REST API): set the {rtype} record of {name}", "\n".join((
        f"curl -X PUT {origin}/api/v1/zones/{zone}/rrsets/{name}/{rtype} \\",
        f"  -H {shlex.quote('Authorization: Bearer ' + token)} \\",
        "  -H 'content-type: application/json' \\",
        f"  -d '{{\"ttl\": 300, \"records\": [\"{data}\"]}}'",
    )))


def _ddclient(origin: str, token: str, name: str) -> Snippet:
    parts = urlsplit(origin)
    return Snippet("ddclient", "ddclient (dyndns2): /etc/ddclient.conf", "\n".join((
        "protocol=dyndns2",
        f"ssl={'yes' if parts.scheme == 'https' else 'no'}",
        f"server={parts.netloc}",
        "login=token",
        f"password='{token}'",
        name,
    )))


def _id_and_secret(token: str) -> tuple[str, str]:
    parsed = tokens.parse(token)
    if parsed is None:
        raise ValueError("not a realm token")
    return parsed


def _inadyn(origin: str, token: str, name: str, types: Sequence[str]) -> Snippet:
    """inadyn 2.x: a custom dyndns2 provider (%h hostname, %i address)."""
    parts = urlsplit(origin)
    token_id, secret = _id_and_secret(token)
    return Snippet("inadyn", "inadyn (dyndns2 custom provider): /etc/inadyn.conf", "\n".join((
        "period = 300",
        *(["allow-ipv6 = true"] if "AAAA" in types and "A" not in types else []),
        "custom dnsgate {",
        f"    ssl         = {'true' if parts.scheme == 'https' else 'false'}",
        f'    username    = "{token_id}"',
        f'    password    = "{secret}"',
        f'    ddns-server = "{parts.netloc}"',
        '    ddns-path   = "/nic/update?hostname=%h&myip=%i"',
        f'    hostname    = "{name}"',
        "}",
    )))


def _router(origin: str, token: str, name: str, types: Sequence[str]) -> Snippet:
    """The update URL routers take (FRITZ!Box style: the router fills in
    ``<ipaddr>``/``<ip6addr>``); the credential is the URL's user:password."""
    parts = urlsplit(origin)
    token_id, secret = _id_and_secret(token)
    ips = [p for t, p in (("A", "<ipaddr>"), ("AAAA", "<ip6addr>")) if t in types]
    return Snippet("router", "Router (dyndns2 update URL, e.g. FRITZ!Box “user-defined”)",
                   f"{parts.scheme}://{token_id}:{secret}@{parts.netloc}/nic/update"
                   f"?hostname={name}&myip={','.join(ips)}")


def _lego_httpreq(origin: str, token: str, domain: str) -> Snippet:
    return Snippet("lego", "lego (httpreq): DNS-01 certificates", "\n".join((
        f"HTTPREQ_ENDPOINT={origin}/httpreq \\",
        "HTTPREQ_USERNAME=lego \\",
        f"HTTPREQ_PASSWORD={token} \\",
        f"lego --email you@example.org --dns httpreq -d {domain} run",
    )))


def _lego_pdns(origin: str, token: str, domain: str) -> Snippet:
    return Snippet("lego-pdns", "lego (pdns, the PowerDNS API): DNS-01 certificates",
                   "\n".join((
                       f"PDNS_API_URL={origin}/pdns \\",
                       f"PDNS_API_KEY={token} \\",
                       f"lego --email you@example.org --dns pdns -d {domain} run",
                   )))


def _acme_dns(origin: str, token: str, domain: str) -> Snippet:
    """acme-dns's account file (lego's ``acme-dns`` provider and certbot's
    acme-dns hooks read this shape): username and subdomain are the token id,
    the password is the token, ``fulldomain`` the challenge name itself (no
    CNAME needed)."""
    token_id, _ = _id_and_secret(token)
    account = {domain: {"username": token_id, "password": token,
                        "fulldomain": f"{CHALLENGE}{domain}", "subdomain": token_id,
                        "allowfrom": []}}
    return Snippet("acme-dns", "acme-dns clients: account file /etc/lego/acme-dns.json",
                   "\n".join((
                       json.dumps(account, indent=2),
                       "",
                       f"ACME_DNS_API_BASE={origin}/acme-dns \\",
                       "ACME_DNS_STORAGE_PATH=/etc/lego/acme-dns.json \\",
                       f"lego --email you@example.org --dns acme-dns -d {domain} run",
                   )))
