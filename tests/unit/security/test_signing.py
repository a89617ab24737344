"""The one signer: what it made before it was one module still verifies, and a
value signed for one purpose never passes for another."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from dnsgate.security import signed_links, signing
from dnsgate.web import csrf, second_factor

KEY = b"k" * 32


def test_values_handed_out_before_still_verify():
    # mail links and cookies in the wild were signed as HMAC(key, "<purpose>|<message>")
    old = hmac.new(KEY, b"csrf|session-ref", hashlib.sha256).hexdigest()
    assert csrf.valid(KEY, "session-ref", old)
    old_fingerprint = hmac.new(KEY, b"bind|$argon2id$x", hashlib.sha256).hexdigest()[:32]
    assert signed_links.fingerprint(KEY, "$argon2id$x") == old_fingerprint
    payload = "7.1900000000.YWxpY2U.Lw"
    old_cookie = hmac.new(KEY, b"dnsgate 2fa pending login v1|" + payload.encode(),
                          hashlib.sha256).hexdigest()
    opened = second_factor.open_pending(KEY, f"{payload}.{old_cookie}", now=0)
    assert opened == second_factor.Pending(7, "alice", "/")


@given(message=st.text(max_size=40))
def test_a_mac_is_good_for_its_own_purpose_only(message):
    made = signing.mac(KEY, "csrf", message)
    assert signing.verify(KEY, "csrf", message, made)
    assert not signing.verify(KEY, "link", message, made)
    assert not signing.verify(b"o" * 32, "csrf", message, made)
