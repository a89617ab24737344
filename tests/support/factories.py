"""Test factories: build accounts, zones, realms, tokens and keys through the services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from dnsgate.services import accounts, realms, tokens, zones
from dnsgate.services.auth import account_caller
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT, Caller, Env

_names = itertools.count(1)


@dataclass
class Made:
    id: Any
    secret: str  # a token or API key text ('' when there is none)


class World:
    """Everything a test needs, made the way the product makes it."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def account(self, name: str | None = None, *, admin: bool = False,
                password: str = "correct horse battery") -> int:
        row = accounts.create_account(
            self.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
            name=name or f"user{next(_names)}", admin=admin, password=password)
        return row.id

    def caller(self, account_id: int) -> Caller:
        with self.env.db.read() as session:
            return account_caller(session, account_id)

    def api_key(self, account_id: int) -> str:
        _, text = accounts.create_api_key(self.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                          account_id=account_id, name="test")
        return text

    async def zone(self, name: str = "example.test", *, backend: str = "builtin",
                   **policy: Any) -> str:
        policy.setdefault("visibility", "public")
        policy.setdefault("approval", "auto")
        info = await zones.add_zone(self.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=name,
                                    backend=backend, policy=zones.PolicyUpdate(**policy))
        return info.name

    def realm(self, account_id: int, zone: str, name: str, kind: str = "host",
              types: list[str] | None = None, ops: list[str] | None = None) -> int:
        row = realms.request_realm(self.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone,
                                   name=name, kind=kind, types=types, operations=ops,
                                   account_id=account_id)
        return row.id

    async def approve(self, realm_id: int) -> None:
        """An admin approves a pending realm (the explicit hand-over)."""
        realms.decide_realm(self.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, realm_id=realm_id,
                            status="approved")

    def token(self, realm_id: int, **scope: Any) -> Made:
        row, text = tokens.create_token(self.env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                        realm_id=realm_id, **scope)
        return Made(row.id, text)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
