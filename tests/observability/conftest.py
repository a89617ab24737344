"""The HTTP API tests' fixtures (tests/api/conftest.py), for these tests too."""

from tests.api.conftest import (  # noqa: F401
    _cheap_password_hashes,
    alice,
    clock,
    env,
    make_client,
    make_settings,
    zone,
)
