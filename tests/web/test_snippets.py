"""The snippets shown with a new token, each run against the app as its client would.

The snippets are read from the "token created" page (as a person copies
them), parsed the way their client reads them, and sent to the in-process
app; the record each one sets is then read back through the REST API. A
snippet with a wrong path, credential layout or parameter fails here.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from typing import Any

import httpx
import pytest

from tests.support.acme import basic
from tests.support.factories import bearer
from tests.web.conftest import PASSWORD

ZONE = "example.test"
CHALLENGE_VALUE = "x" * 43  # an ACME DNS-01 value is 43 characters
_SNIPPET = re.compile(r'<pre id="snippet-([a-z-]+)"[^>]*><code>(.*?)</code></pre>', re.S)


async def _create(world, browser, realm_name: str, kind: str, types: list[str],
                  token_types: list[str] | None = None) -> tuple[str, dict[str, str], str]:
    """alice creates a token in the portal: (secret, snippets by id, the page)."""
    alice = world.account("alice", password=PASSWORD)
    realm = world.realm(alice, ZONE, realm_name, kind=kind, types=types)
    async with browser() as b:
        await b.login("alice")
        await b.get("/ui/tokens")
        form = [("realm_id", str(realm)), *(("types", t) for t in token_types or [])]
        page = await b.submit("/ui/tokens", form)
        assert page.status_code == 200, page.text
        listing = await b.get("/ui/tokens")
    secret = html.unescape(re.search(r'<code id="secret" data-secret>([^<]+)</code>',
                                     page.text).group(1))  # type: ignore[union-attr]
    assert secret not in listing.text  # shown on that one page only
    found = {sid: html.unescape(text) for sid, text in _SNIPPET.findall(page.text)}
    return secret, found, page.text


async def _records(client: httpx.AsyncClient, secret: str, name: str, rtype: str) -> list[str]:
    response = await client.get(f"/api/v1/zones/{ZONE}/rrsets/{name}/{rtype}",
                                headers=bearer(secret))
    return response.json()["records"] if response.status_code == 200 else []


def _env_vars(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)=(\S+) \\$", text, re.M))


def _domain(text: str) -> str:
    return re.search(r" -d (\S+) run", text).group(1)  # type: ignore[union-attr]


async def run_curl(client: httpx.AsyncClient, text: str) -> httpx.Response:
    args = shlex.split(text.replace("\\\n", " "))
    assert args[:3] == ["curl", "-X", "PUT"]
    headers = dict(h.split(": ", 1) for h in args[args.index("-H") + 1::2][:2])
    return await client.request("PUT", args[3], headers=headers, content=args[-1])


async def run_ddclient(client: httpx.AsyncClient, text: str, ip: str) -> httpx.Response:
    lines = text.splitlines()
    conf = dict(line.split("=", 1) for line in lines if "=" in line)
    scheme = "https" if conf["ssl"] == "yes" else "http"
    return await client.get(f"{scheme}://{conf['server']}/nic/update",
                            params={"hostname": lines[-1], "myip": ip},
                            headers=basic(conf["login"], conf["password"].strip("'")))


async def run_inadyn(client: httpx.AsyncClient, text: str, ip: str) -> httpx.Response:
    conf = dict(re.findall(r'^\s*([a-z-]+)\s*=\s*"?([^"\n]*)"?$', text, re.M))
    scheme = "https" if conf["ssl"] == "true" else "http"
    path = conf["ddns-path"].replace("%h", conf["hostname"]).replace("%i", ip)
    return await client.get(f"{scheme}://{conf['ddns-server']}{path}",
                            headers=basic(conf["username"], conf["password"]))


async def run_router(client: httpx.AsyncClient, text: str, ip: str) -> httpx.Response:
    # the router fills in its addresses
    url = httpx.URL(text.replace("<ipaddr>", ip).replace("<ip6addr>", "2001:db8::13"))
    auth = basic(url.username, url.password)
    return await client.get(url.copy_with(username=None, password=None), headers=auth)


async def run_httpreq(client: httpx.AsyncClient, text: str) -> httpx.Response:
    env = _env_vars(text)
    fqdn = f"_acme-challenge.{_domain(text)}."
    return await client.post(f"{env['HTTPREQ_ENDPOINT']}/present",
                             json={"fqdn": fqdn, "value": CHALLENGE_VALUE},
                             headers=basic(env["HTTPREQ_USERNAME"], env["HTTPREQ_PASSWORD"]))


async def run_pdns(client: httpx.AsyncClient, text: str) -> httpx.Response:
    """What lego's pdns provider does: find the server, then PATCH the TXT RRset."""
    env = _env_vars(text)
    headers = {"X-API-Key": env["PDNS_API_KEY"]}
    servers = await client.get(f"{env['PDNS_API_URL']}/api/v1/servers", headers=headers)
    assert servers.status_code == 200 and servers.json()[0]["id"] == "localhost"
    rrset = {"name": f"_acme-challenge.{_domain(text)}.", "type": "TXT", "ttl": 120,
             "changetype": "REPLACE",
             "records": [{"content": f'"{CHALLENGE_VALUE}"', "disabled": False}]}
    return await client.patch(
        f"{env['PDNS_API_URL']}/api/v1/servers/localhost/zones/{ZONE}.",
        json={"rrsets": [rrset]}, headers=headers)


async def run_acme_dns(client: httpx.AsyncClient, text: str) -> tuple[httpx.Response, Any]:
    """What an acme-dns client does with its account file: POST /update."""
    account_text, _, commands = text.partition("\n\n")
    accounts = json.loads(account_text)
    account = accounts[_domain(commands)]
    base = _env_vars(commands)["ACME_DNS_API_BASE"]
    response = await client.post(f"{base}/update",
                                 json={"subdomain": account["subdomain"],
                                       "txt": CHALLENGE_VALUE},
                                 headers={"X-Api-User": account["username"],
                                          "X-Api-Key": account["password"]})
    return response, account


async def test_a_host_realm_gets_the_dyndns_clients(world, browser, client, zone):
    secret, found, _ = await _create(world, browser, "home", "host", ["A", "AAAA"])
    assert sorted(found) == ["curl", "ddclient", "inadyn", "router"]  # no TXT: no ACME
    name = f"home.{ZONE}"
    assert (await run_curl(client, found["curl"])).status_code == 200
    assert await _records(client, secret, name, "A") == ["192.0.2.10"]
    for runner, ip in ((run_ddclient, "192.0.2.11"), (run_inadyn, "192.0.2.12"),
                       (run_router, "192.0.2.13")):
        response = await runner(client, found[runner.__name__.removeprefix("run_")], ip)
        assert response.text.startswith(f"good {ip}"), (runner.__name__, response.text)
        assert await _records(client, secret, name, "A") == [ip]
    assert "<ipaddr>,<ip6addr>" in found["router"]  # A and AAAA: the router sends both


async def test_a_subtree_realm_gets_every_snippet(world, browser, client, zone):
    secret, found, _ = await _create(world, browser, "lab", "subtree", ["A", "TXT"])
    assert sorted(found) == ["acme-dns", "curl", "ddclient", "inadyn", "lego", "lego-pdns",
                             "router"]
    challenge = f"_acme-challenge.lab.{ZONE}"
    assert (await run_httpreq(client, found["lego"])).status_code == 200
    assert await _records(client, secret, challenge, "TXT") == [f'"{CHALLENGE_VALUE}"']
    await client.put(f"/api/v1/zones/{ZONE}/rrsets/{challenge}/TXT",
                     headers=bearer(secret), json={"records": ['"reset"']})
    assert (await run_pdns(client, found["lego-pdns"])).status_code == 204
    assert await _records(client, secret, challenge, "TXT") == [f'"{CHALLENGE_VALUE}"']
    response, account = await run_acme_dns(client, found["acme-dns"])
    assert response.status_code == 200, response.text
    assert account["fulldomain"] == challenge
    assert f'"{CHALLENGE_VALUE}"' in await _records(client, secret, challenge, "TXT")
    assert "router" in found and "myip=<ipaddr>" in found["router"]


async def test_a_host_realm_with_txt_gets_its_own_dns_01(world, browser, client, zone):
    """A host realm allowing TXT may write TXT at _acme-challenge.<host> (domain.policy)."""
    secret, found, _ = await _create(world, browser, "home", "host", ["A", "TXT"])
    assert sorted(found) == ["acme-dns", "curl", "ddclient", "inadyn", "lego", "lego-pdns",
                             "router"]
    assert _domain(found["lego"]) == f"home.{ZONE}"
    response, account = await run_acme_dns(client, found["acme-dns"])
    assert response.status_code == 200, response.text
    assert await _records(client, secret, account["fulldomain"], "TXT") == [
        f'"{CHALLENGE_VALUE}"']


async def test_a_challenge_host_gets_the_acme_clients_only(world, browser, client, zone):
    secret, found, _ = await _create(world, browser, "_acme-challenge.www", "host", ["TXT"])
    # no acme-dns: that facade would write _acme-challenge._acme-challenge.www
    assert sorted(found) == ["curl", "lego", "lego-pdns"]
    assert _domain(found["lego"]) == f"www.{ZONE}"
    challenge = f"_acme-challenge.www.{ZONE}"
    assert (await run_pdns(client, found["lego-pdns"])).status_code == 204
    assert await _records(client, secret, challenge, "TXT") == [f'"{CHALLENGE_VALUE}"']
    assert (await run_httpreq(client, found["lego"])).status_code == 200


async def test_a_token_narrowed_to_txt_gets_no_dyndns(world, browser, client, zone):
    _, found, _ = await _create(world, browser, "lab", "subtree", ["A", "TXT"],
                                token_types=["TXT"])
    assert "ddclient" not in found and "router" not in found and "inadyn" not in found
    assert "/TXT" in found["curl"]
    assert (await run_curl(client, found["curl"])).status_code == 200


@pytest.mark.parametrize("runner", [run_ddclient, run_inadyn, run_router])
async def test_a_wrong_credential_in_a_snippet_fails(world, browser, client, zone, runner):
    """The runners are strict enough to catch a broken snippet."""
    _, found, _ = await _create(world, browser, "home", "host", ["A"])
    text = found[runner.__name__.removeprefix("run_")]
    token_id = re.search(r"dg_([a-z2-7]{16})_", found["curl"]).group(1)  # type: ignore[union-attr]
    broken = re.sub(r"[a-z2-7]{52}", "a" * 52, text).replace(token_id, "b" * 16)
    response = await runner(client, broken, "192.0.2.99")
    assert "good" not in response.text
