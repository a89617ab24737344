"""Behind a trusted proxy, the UI reads https-ness from the proxy's own header
family only (``DNSGATE_PROXY_HEADER``): ``X-Forwarded-Proto`` beside
``X-Forwarded-For``, ``Forwarded: proto=`` with ``Forwarded``. The other one
is whatever the client sent."""

from __future__ import annotations

import pytest

HSTS = "strict-transport-security"


@pytest.mark.parametrize(("proxy_header", "headers", "https"), [
    ("x-forwarded-for", {"x-forwarded-proto": "https"}, True),
    ("x-forwarded-for", {"forwarded": "for=192.0.2.1;proto=https"}, False),
    ("x-forwarded-for", {"forwarded": "proto=https", "x-forwarded-proto": "http"}, False),
    ("forwarded", {"forwarded": "for=192.0.2.1;proto=https"}, True),
    ("forwarded", {"x-forwarded-proto": "https"}, False),
])
async def test_only_the_proxys_header_family_says_https(browser, make_settings, env, proxy_header,
                                                        headers, https):
    from dnsgate.app import create_app

    app = create_app(make_settings(trusted_proxies="10.0.0.0/8", proxy_header=proxy_header),
                     env=env, migrate_on_start=False)
    async with browser(peer="10.0.0.1", target=app) as b:
        response = await b.client.get("/ui/login", headers=headers)
    assert response.status_code == 200
    assert (HSTS in response.headers) is https
