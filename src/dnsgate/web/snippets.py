"""Ready-to-paste client configurations for a freshly minted token.

Only shown with the token itself (once); each snippet names a real client and
the dnsgate surface it speaks (REST, dyndns2, lego httpreq).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str
    title: str
    text: str


def _example_name(realm_name: str, kind: str) -> str:
    return f"www.{realm_name}" if kind == "below" else realm_name


def snippets(origin: str, token: str, realm_name: str, zone: str, types: Sequence[str],
             kind: str = "host") -> list[Snippet]:
    """curl always; ddclient for A/AAAA realms; lego httpreq where the realm may
    write the ACME challenge."""
    name = _example_name(realm_name, kind)
    rtype = next((t for t in ("A", "AAAA", "TXT") if t in types), types[0] if types else "A")
    data = {"A": "192.0.2.10", "AAAA": "2001:db8::10", "TXT": '\\"hello\\"'}.get(
        rtype, "...")
    out = [Snippet("curl", f"curl (REST API): set the {rtype} record of {name}", "\n".join((
        f"curl -X PUT {origin}/api/v1/zones/{zone}/rrsets/{name}/{rtype} \\",
        f"  -H {shlex.quote('Authorization: Bearer ' + token)} \\",
        "  -H 'content-type: application/json' \\",
        f"  -d '{{\"ttl\": 300, \"records\": [\"{data}\"]}}'",
    )))]
    parts = urlsplit(origin)
    if "A" in types or "AAAA" in types:
        out.append(Snippet("ddclient", "ddclient (dyndns2): /etc/ddclient.conf", "\n".join((
            "protocol=dyndns2",
            f"ssl={'yes' if parts.scheme == 'https' else 'no'}",
            f"server={parts.netloc}",
            "login=token",
            f"password='{token}'",
            name,
        ))))
    # lego writes TXT at _acme-challenge.<domain>: only where the realm covers that
    challenge = realm_name.startswith("_acme-challenge.")
    if "TXT" in types and (challenge or kind in ("subtree", "below")):
        acme = realm_name.removeprefix("_acme-challenge.") if challenge else name
        out.append(Snippet("lego", "lego (httpreq): DNS-01 certificates", "\n".join((
            f"HTTPREQ_ENDPOINT={origin}/httpreq \\",
            "HTTPREQ_USERNAME=lego \\",
            f"HTTPREQ_PASSWORD={token} \\",
            f"lego --email you@example.org --dns httpreq -d {acme} run",
        ))))
    return out
