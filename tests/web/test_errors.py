"""Error pages of the UI: HTML (never the API's problem+json), nothing leaked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dnsgate.domain.errors import RateLimited
from dnsgate.throttling.login_throttle import LoginThrottle


async def test_ui_without_slash_goes_to_the_ui(client):
    response = await client.get("/ui")
    assert response.status_code in (307, 308)
    assert response.headers["location"].endswith("/ui/")


async def test_unknown_page_is_an_html_404(alice_browser):
    response = await alice_browser.get("/ui/nothing/here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text


async def test_wrong_method_is_an_html_405(alice_browser):
    response = await alice_browser.client.delete("/ui/tokens")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")


async def test_a_form_with_too_many_fields_is_refused(alice_browser):
    await alice_browser.get("/ui/tokens")
    fields = [("types", "A")] * 300
    response = await alice_browser.submit("/ui/tokens", fields)
    assert response.status_code == 403


def test_throttle_delays_grow_and_are_capped(env):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    throttle = LoginThrottle(env.db, lambda: now, free=3, base=timedelta(seconds=1),
                             cap=timedelta(seconds=60))
    assert [throttle.delay(n).total_seconds() for n in range(10)] == [
        0, 0, 0, 1, 2, 4, 8, 16, 32, 60]
    keys = ("user:alice|192.0.2.1",)
    for _ in range(3):
        throttle.check(keys)
        throttle.failed(keys)
    with pytest.raises(RateLimited) as refused:
        throttle.check(keys)
    assert refused.value.retry_after == 1
    throttle.check(("user:alice|192.0.2.2",))  # another address is not slowed
    throttle.succeeded(keys)
    throttle.check(keys)
