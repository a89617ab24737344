"""A quoted TXT string longer than 255 bytes is split into 255-byte
character-strings, as PowerDNS does, on every surface: the REST API, the
PowerDNS API facade (and the ACME facades through ``compat/txt.py``), and the
DNS server answers with the split strings (dig shows them)."""

from __future__ import annotations

from tests.dns.conftest import ZONE
from tests.dns.tools import dig
from tests.support.factories import bearer

VALUE = "v=DKIM1; k=rsa; p=" + "A" * 582  # 600 bytes, one quoted string
SPLIT = [VALUE[:255], VALUE[255:510], VALUE[510:]]
PRESENTATION = " ".join(f'"{part}"' for part in SPLIT)


async def test_rest_put_splits_a_long_quoted_string(client, admin, server):
    name = f"dkim.{ZONE}"
    response = await client.put(f"/api/v1/zones/{ZONE}/rrsets/{name}/TXT",
                                headers=bearer(admin),
                                json={"ttl": 300, "records": [f'"{VALUE}"']})
    assert response.status_code == 200, response.text
    assert response.json()["records"] == [PRESENTATION]
    read = await client.get(f"/api/v1/zones/{ZONE}/rrsets/{name}/TXT", headers=bearer(admin))
    assert read.json()["records"] == [PRESENTATION]
    # The strings as dig shows them, one 255-byte string after the other.
    answer = await dig(server.port, name, "TXT")
    assert answer.status == "NOERROR"
    assert [r.data for r in answer.answer] == [PRESENTATION]
    # The same value sent already split is the same record: a no-op.
    again = await client.put(f"/api/v1/zones/{ZONE}/rrsets/{name}/TXT", headers=bearer(admin),
                             json={"ttl": 300, "records": [PRESENTATION]})
    assert again.status_code == 200 and again.json()["records"] == [PRESENTATION]


async def test_pdns_api_facade_splits_a_long_quoted_string(client, admin, server):
    name = f"long2.{ZONE}"
    patch = await client.patch(
        f"/pdns/api/v1/servers/localhost/zones/{ZONE}.", headers={"X-API-Key": admin},
        json={"rrsets": [{"name": f"{name}.", "type": "TXT", "ttl": 300, "changetype": "REPLACE",
                          "records": [{"content": f'"{VALUE}" "short"', "disabled": False}]}]})
    assert patch.status_code == 204, patch.text
    read = await client.get(f"/api/v1/zones/{ZONE}/rrsets/{name}/TXT", headers=bearer(admin))
    assert read.json()["records"] == [f'{PRESENTATION} "short"']
    answer = await dig(server.port, name, "TXT")
    assert [r.data for r in answer.answer] == [f'{PRESENTATION} "short"']
