"""First start: the ``builtin`` backend, and the demo installation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dnsgate.backends.registry import BUILTIN
from dnsgate.db.models import Account, Backend, Zone
from dnsgate.services import accounts, zones
from dnsgate.services.context import SYSTEM_CONTEXT, Env

DEMO_ZONE = "example.test"
DEMO_ADMIN = "admin"


def ensure_builtin_backend(env: Env) -> None:
    """The backend named ``builtin`` exists from the first start."""
    with env.db.write() as session:
        if session.scalars(select(Backend.id).where(Backend.name == BUILTIN)).first() is None:
            session.add(Backend(name=BUILTIN, provider=BUILTIN, config={},
                                health_status="ok", created_at=env.clock()))


@dataclass(frozen=True, slots=True)
class DemoState:
    admin_name: str
    admin_password: str | None  # only on the start that created the admin


async def ensure_demo(env: Env) -> DemoState:
    """Demo zone ``example.test`` (public, auto-approve) and an admin account.

    The admin's one-time password is generated and returned only when the
    account is created; later starts return None for it.
    """
    ensure_builtin_backend(env)
    password: str | None = None
    with env.db.read() as session:
        has_admin = session.scalars(select(Account.id).where(Account.name == DEMO_ADMIN)).first()
        has_zone = session.scalars(select(Zone.id).where(Zone.name == DEMO_ZONE)).first()
    if has_admin is None:
        password = accounts.generate_password()
        accounts.create_account(env, SYSTEM_CONTEXT, caller=None, name=DEMO_ADMIN, admin=True,
                                password=password)
    if has_zone is None:
        await zones.add_zone(env, SYSTEM_CONTEXT, caller=None, zone=DEMO_ZONE, backend=BUILTIN,
                             policy=zones.PolicyUpdate(visibility="public", approval="auto"))
    return DemoState(DEMO_ADMIN, password)
