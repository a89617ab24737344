"""dnsgate.security.signed_links: a link's numbers are in range, or it is no link."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dnsgate.security import signed_links

KEY = b"k" * 32
NOW = datetime(2030, 1, 1, tzinfo=UTC)
MAC = "0" * 64


@pytest.mark.parametrize("token", [
    f"99999999999999999999999.1.{MAC}", f"1.99999999999999999999.{MAC}",
    f"{2**31}.1.{MAC}", f"1.{signed_links.MAX_EXPIRES + 1}.{MAC}", f"²².1.{MAC}",
    f"1.\u0661.{MAC}", f"-1.1.{MAC}", f"1.1.{MAC[:-1]}", "1.1", "",
])
def test_out_of_range_numbers_are_no_link(token):
    assert signed_links.claim(token) is None
    assert signed_links.check(KEY, signed_links.VERIFY_EMAIL, token, binding="x",
                              now=NOW) == "invalid"


def test_the_largest_numbers_still_sign_and_check():
    expires = datetime.fromtimestamp(signed_links.MAX_EXPIRES, UTC)
    token = signed_links.sign(KEY, signed_links.RESET_PASSWORD,
                              account_id=signed_links.MAX_ACCOUNT_ID, expires_at=expires,
                              binding="b")
    claim = signed_links.claim(token)
    assert claim == signed_links.LinkClaim(signed_links.MAX_ACCOUNT_ID, signed_links.MAX_EXPIRES)
    assert signed_links.check(KEY, signed_links.RESET_PASSWORD, token, binding="b",
                              now=NOW) == "ok"
    assert signed_links.check(KEY, signed_links.RESET_PASSWORD, token, binding="b",
                              now=expires) == "expired"
