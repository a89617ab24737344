"""dnsgate.security.client_ip: the socket peer, unless that peer is a trusted proxy;
then the one header the proxy sets (``DNSGATE_PROXY_HEADER``)."""

from __future__ import annotations

import ipaddress

import pytest

from dnsgate.security.client_ip import PROXY_HEADERS, client_ip, hops

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


def ip(peer, xff=None, fwd=None, proxies=PROXIES):
    """With X-Forwarded-For as the proxy's header if ``xff`` is given, else Forwarded."""
    if fwd is not None:
        assert xff is None, "one header at a time: the other is never read"
        return client_ip(peer, fwd, proxies, header="forwarded")
    return client_ip(peer, xff, proxies)


@pytest.mark.parametrize("proxies", [(), PROXIES])
def test_an_untrusted_peer_is_the_client_whatever_it_forwards(proxies):
    assert ip("198.51.100.7", "192.0.2.1", proxies=proxies) == "198.51.100.7"
    assert ip("198.51.100.7", fwd='for="192.0.2.2"', proxies=proxies) == "198.51.100.7"
    assert ip("2001:db8::7", "192.0.2.1", None, proxies) == "2001:db8::7"


def test_without_trusted_proxies_a_proxy_address_is_just_a_peer():
    assert ip("10.0.0.1", "192.0.2.1", None, proxies=()) == "10.0.0.1"


def test_peer_spellings():
    assert ip(None) is None
    assert ip("2001:DB8:0::1") == "2001:db8::1"  # canonical text
    assert ip("testclient", "192.0.2.1") == "testclient"  # not an address: never trusted


def test_x_forwarded_for_from_a_trusted_proxy():
    assert ip("10.0.0.1", "192.0.2.1") == "192.0.2.1"
    assert ip("10.0.0.1", " 192.0.2.1 ") == "192.0.2.1"
    assert ip("2001:db8:ffff::1", "2001:DB8::5") == "2001:db8::5"


def test_the_rightmost_untrusted_hop_is_the_client():
    # the client may put anything left of its own address
    assert ip("10.0.0.1", "1.1.1.1, 192.0.2.1, 10.0.0.2, 10.0.0.3") == "192.0.2.1"
    assert ip("10.0.0.1", "192.0.2.1,198.51.100.2") == "198.51.100.2"


def test_only_trusted_hops_leave_the_peer():
    assert ip("10.0.0.1", "10.0.0.2, 10.0.0.3") == "10.0.0.1"
    assert ip("10.0.0.1", "") == "10.0.0.1"
    assert ip("10.0.0.1", " , ") == "10.0.0.1"
    assert ip("10.0.0.1") == "10.0.0.1"


def test_a_garbled_hop_stops_the_walk():
    assert ip("10.0.0.1", "192.0.2.1, garbage, 10.0.0.2") == "10.0.0.1"
    assert ip("10.0.0.1", "192.0.2.1, 300.1.1.1") == "10.0.0.1"
    assert ip("10.0.0.1", fwd='for="_hidden", for=10.0.0.9') == "10.0.0.1"
    assert ip("10.0.0.1", fwd="for=unknown") == "10.0.0.1"


def test_forwarded_header():
    assert ip("10.0.0.1", fwd="for=192.0.2.60;proto=http;by=203.0.113.43") == "192.0.2.60"
    assert ip("10.0.0.1", fwd='For="[2001:db8:cafe::17]:4711"') == "2001:db8:cafe::17"
    assert ip("10.0.0.1", fwd='for="[2001:db8::1]"') == "2001:db8::1"
    assert ip("10.0.0.1", fwd="for=192.0.2.43, for=198.51.100.17") == "198.51.100.17"
    assert ip("10.0.0.1", fwd="for=192.0.2.43, for=10.0.0.2") == "192.0.2.43"
    assert ip("10.0.0.1", fwd="proto=https;for=192.0.2.5;host=example.test") == "192.0.2.5"
    assert ip("10.0.0.1", fwd="by=192.0.2.99") == "10.0.0.1"


def test_ports_are_not_part_of_the_address():
    # RFC 7239: an IPv4 node with a port is quoted, an IPv6 one bracketed
    assert ip("10.0.0.1", fwd='for="192.0.2.43:47011"') == "192.0.2.43"
    assert ip("10.0.0.1", "192.0.2.43:47011") == "192.0.2.43"
    assert ip("10.0.0.1", fwd='for="10.0.0.5:80", for="192.0.2.9:1"') == "192.0.2.9"
    assert ip("10.0.0.1", "2001:db8::1") == "2001:db8::1"  # colons of IPv6 stay


def test_forwarded_empty_or_absent_leaves_the_peer():
    assert ip("10.0.0.1", fwd="") == "10.0.0.1"
    assert client_ip("10.0.0.1", None, PROXIES, header="forwarded") == "10.0.0.1"


@pytest.mark.parametrize("header", PROXY_HEADERS)
def test_only_the_configured_header_is_read(header):
    """What the other header says never matters: the caller passes only the one
    the proxy sets, so a client's own Forwarded cannot outvote the proxy's
    X-Forwarded-For (nor the other way round)."""
    values = {"x-forwarded-for": "192.0.2.1", "forwarded": "for=198.51.100.1"}
    expected = {"x-forwarded-for": "192.0.2.1", "forwarded": "198.51.100.1"}
    assert client_ip("10.0.0.1", values[header], PROXIES, header=header) == expected[header]
    # the other header's syntax in this header is no address: the proxy is the client
    other = next(h for h in PROXY_HEADERS if h != header)
    assert client_ip("10.0.0.1", values[other], PROXIES, header=header) == "10.0.0.1"


def test_hops_of_each_header():
    assert hops("x-forwarded-for", "192.0.2.1, ,10.0.0.2") == ["192.0.2.1", "10.0.0.2"]
    assert hops("forwarded", 'for=192.0.2.1;proto=https, for="[2001:db8::1]:80"') == [
        "192.0.2.1", "2001:db8::1"]
    assert hops("forwarded", None) == hops("x-forwarded-for", "") == []
