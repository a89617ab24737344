"""The egress guard of accounts' own backends: the address table, and real
sockets on loopback -- a refused connection never reaches the server, an
allowed one does, a name is resolved once and every address checked, no
redirect is followed, and TLS still verifies the host name (SNI)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from tests.support.upstream import Upstream

from dnsgate.backends import failures, registry
from dnsgate.backends.base import Backend
from dnsgate.backends.powerdns import PowerDNSBackend, PowerDNSConfig
from dnsgate.backends.rfc2136 import RFC2136Backend, RFC2136Config
from dnsgate.domain.errors import BackendUnavailable
from dnsgate.security.egress import Egress, EgressRefused, is_allowed, networks

LOOPBACK = networks("127.0.0.0/8, ::1/128")

REFUSED = [
    # loopback, unspecified, this network
    "127.0.0.1", "127.255.255.254", "::1", "0.0.0.0", "0.1.2.3", "::",
    # RFC 1918 and ULA
    "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "fc00::1", "fd12:3456:789a::1",
    # link-local, the metadata service among them
    "169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", "fec0::1",
    # CGNAT, multicast, broadcast, reserved
    "100.64.0.1", "100.127.255.255", "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1",
    "255.255.255.255", "240.0.0.1",
    # documentation, benchmarking, protocol assignments, discard
    "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "3fff::1", "198.18.0.1",
    "198.19.255.255", "192.0.0.8", "192.88.99.1", "2001::1", "2001:2::1", "100::1",
    # the same in IPv6 clothing: mapped, compatible, NAT64 (well-known and local), 6to4
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:192.0.2.1",
    "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1",
    "64:ff9b:1::8.8.8.8", "2002:7f00:1::1", "2002:c0a8:101::1", "2002:a9fe:a9fe::1",
    # not addresses at all (a name is resolved first, never judged as text)
    "localhost", "example.com", "", "127.1", "2130706433",
]
ALLOWED = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "192.0.3.1",
    "2606:4700:4700::1111", "2a00:1450:4001:81b::200e", "::ffff:8.8.8.8",
    "64:ff9b::808:808", "2002:808:808::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_refused_addresses(address):
    assert not is_allowed(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses(address):
    assert is_allowed(address)
    assert is_allowed(ipaddress.ip_address(address))


def test_the_operator_opens_chosen_networks_only():
    assert is_allowed("127.0.0.1", LOOPBACK) and is_allowed("::1", LOOPBACK)
    assert is_allowed("::ffff:127.0.0.1", LOOPBACK)  # the same address, mapped
    assert not is_allowed("10.0.0.1", LOOPBACK) and not is_allowed("169.254.169.254", LOOPBACK)
    lan = networks("10.1.0.0/16")
    assert is_allowed("10.1.2.3", lan) and not is_allowed("10.2.0.1", lan)
    assert is_allowed("8.8.8.8", lan)  # public stays allowed


def test_the_setting_refuses_what_is_not_a_network():
    from pydantic import ValidationError

    from dnsgate.config import Settings

    assert Settings(byod_allow_networks="").byod_allow_network_list == ()
    assert Settings(byod_allow_networks=" 127.0.0.0/8 ,::1").byod_allow_network_list == LOOPBACK
    with pytest.raises(ValidationError, match="DNSGATE_BYOD_ALLOW_NETWORKS"):
        Settings(byod_allow_networks="127.0.0.0/8, not-a-network")


# --- real sockets on loopback --------------------------------------------------

@pytest.fixture
async def upstream():
    server = await Upstream().start()
    yield server
    await server.stop()


def _config(provider: str, url: str) -> dict[str, Any]:
    return {
        "powerdns": {"api_url": url, "api_key": "k", "timeout": 3},
        "cloudflare": {"api_token": "token", "api_url": url, "timeout": 3},
        "netcup": {"customer_number": "1", "api_key": "k", "api_password": "p",
                   "endpoint": f"{url}/endpoint", "timeout": 3},
    }[provider]


async def _attempt(backend: Backend) -> str:
    """A check's outcome: "ok" or the failure's category."""
    try:
        health = await backend.check()
    except BackendUnavailable as exc:
        return failures.categorize(exc)
    finally:
        await registry.close(backend)
    return "ok" if health.ok else health.category


HTTP_PROVIDERS = ["powerdns", "cloudflare", "netcup"]


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
async def test_an_ip_literal_is_refused_when_the_backend_is_opened(provider, upstream):
    config = registry.parse_config(provider, _config(provider, upstream.url))
    with pytest.raises(EgressRefused) as refused:
        registry.provider(provider).open(config, egress=Egress())
    assert refused.value.field in ("api_url", "endpoint")
    # the operator's networks open it, and then the request arrives
    backend = registry.provider(provider).open(config, egress=Egress(LOOPBACK))
    await _attempt(backend)
    assert upstream.connections >= 1 and upstream.requests


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
async def test_a_name_is_resolved_and_its_address_refused_before_any_connection(
        provider, upstream):
    url = f"http://localhost:{upstream.port}"
    config = registry.parse_config(provider, _config(provider, url))
    backend = registry.provider(provider).open(config, egress=Egress())
    assert await _attempt(backend) == failures.CANNOT_CONNECT
    assert upstream.connections == 0 and upstream.requests == []
    allowed = registry.provider(provider).open(config, egress=Egress(LOOPBACK))
    await _attempt(allowed)
    assert upstream.requests


async def test_the_socket_itself_checks_the_address_it_connects_to(upstream):
    # An adapter built past open() (no check of its configuration): the socket
    # factory still refuses, so no path connects to an unchecked address.
    backend = PowerDNSBackend(PowerDNSConfig(api_url=upstream.url, api_key="k"),
                              egress=Egress())
    assert await _attempt(backend) == failures.CANNOT_CONNECT
    assert upstream.connections == 0
    with pytest.raises(EgressRefused):
        Egress()._socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)))


async def test_platform_backends_are_not_limited(upstream):
    config = registry.parse_config("powerdns", _config("powerdns", upstream.url))
    assert await _attempt(registry.provider("powerdns").open(config)) == "ok"
    assert upstream.requests[0].path == "/api/v1/servers/localhost"


async def test_one_refused_address_refuses_the_whole_answer(monkeypatch, upstream):
    # "mixed.test" resolves to an allowed and a refused address (both loopback,
    # so nothing leaves this host even if the guard were broken)
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "mixed.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                    for ip in ("127.0.0.1", "127.0.0.2")]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    only_one = Egress(networks("127.0.0.1/32"))
    with pytest.raises(EgressRefused):
        await only_one.resolve("mixed.test", 53)
    config = PowerDNSConfig(api_url=f"http://mixed.test:{upstream.port}", api_key="k")
    assert await _attempt(PowerDNSBackend(config, egress=only_one)) == failures.CANNOT_CONNECT
    assert upstream.connections == 0
    assert await Egress(LOOPBACK).resolve("mixed.test", 53) == ["127.0.0.1", "127.0.0.2"]


async def test_no_redirect_is_followed(upstream):
    elsewhere = await Upstream().start()
    try:
        upstream.answer = lambda _request: (302, b"", {
            "Location": f"{elsewhere.url}/api/v1/servers/localhost"})
        config = registry.parse_config("powerdns", _config("powerdns", upstream.url))
        backend = registry.provider("powerdns").open(config, egress=Egress(LOOPBACK))
        assert await _attempt(backend) == failures.BAD_ANSWER
        assert upstream.requests and elsewhere.connections == 0
    finally:
        await elsewhere.stop()


async def test_tls_verifies_the_host_name_on_the_pinned_address(tmp_path):
    # the guard connects to the checked address but sends the URL's name (SNI)
    # and verifies the certificate: a self-signed one fails as a TLS error
    server = await Upstream().start(tls_dir=tmp_path)
    try:
        config = registry.parse_config("cloudflare", {
            "api_token": "token", "api_url": f"https://localhost:{server.port}", "timeout": 3})
        backend = registry.provider("cloudflare").open(config, egress=Egress(LOOPBACK))
        assert await _attempt(backend) == failures.TLS_ERROR
        assert server.server_names and set(server.server_names) == {"localhost"}
        assert server.requests == []
    finally:
        await server.stop()


async def test_rfc2136_connects_only_to_a_checked_address(upstream):
    def config(server: str) -> RFC2136Config:
        return RFC2136Config(server=server, port=upstream.port, tsig_key_name="k.",
                             tsig_secret="c2VjcmV0", zones=["own.test"], timeout=2)

    with pytest.raises(EgressRefused):
        registry.provider("rfc2136").open(config("127.0.0.1"), egress=Egress())
    for server in ("127.0.0.1", "localhost"):
        backend = RFC2136Backend(config(server), egress=Egress())
        assert await _attempt(backend) == failures.CANNOT_CONNECT
    assert upstream.connections == 0
    await _attempt(RFC2136Backend(config("localhost"), egress=Egress(LOOPBACK)))
    assert upstream.connections >= 1  # dnspython was handed the checked address


def test_route53_takes_a_custom_endpoint_only_as_an_allowed_ip_address():
    def config(endpoint: str | None) -> Any:
        return registry.parse_config("route53", {
            "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s",
            **({"endpoint_url": endpoint} if endpoint else {})})

    open_ = registry.provider("route53").open
    with pytest.raises(EgressRefused) as by_name:
        open_(config("http://localhost:5000"), egress=Egress(LOOPBACK))
    assert by_name.value.field == "endpoint_url" and "IP address" in by_name.value.reason
    with pytest.raises(EgressRefused):
        open_(config("http://127.0.0.1:5000"), egress=Egress())
    open_(config("http://127.0.0.1:5000"), egress=Egress(LOOPBACK))
    open_(config(None), egress=Egress())  # AWS's own endpoint, not the account's choice


def test_lexicon_is_never_an_accounts_own_backend():
    # dns-lexicon is a test dependency: if it is missing, this fails (no skip).
    config = registry.parse_config("lexicon", {
        "provider_name": "cloudflare", "credentials": {"auth_token": "t"}})
    with pytest.raises(EgressRefused):
        registry.provider("lexicon").open(config, egress=Egress(LOOPBACK))
