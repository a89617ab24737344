"""Settings admins change at runtime (table ``site_settings``): one JSON value per key.

Only known keys with a fixed set of values are accepted, so a row can never
hold something the code does not understand.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dnsgate.db.models import Account, SiteSetting
from dnsgate.domain.errors import InvalidInput
from dnsgate.domain.permissions import Target
from dnsgate.services import audit, permissions
from dnsgate.services.context import Caller, Env, RequestContext

REQUIRE_2FA = "require_2fa"
REGISTRATION = "registration"  # who may sign up: anyone, only with an invite, nobody
ACCOUNT_APPROVAL = "account_approval"  # new accounts: active once verified, or admin approves
#: key -> (allowed values, default)
KNOWN: dict[str, tuple[tuple[str, ...], str]] = {
    REQUIRE_2FA: (("none", "admins", "all"), "none"),
    REGISTRATION: (("open", "invite", "closed"), "closed"),
    ACCOUNT_APPROVAL: (("auto", "admin"), "admin"),
}


def get(session: Session, key: str) -> Any:
    """The value of a known setting (its default while nobody has set it)."""
    allowed, default = KNOWN[key]
    row = session.get(SiteSetting, key)
    return row.value if row is not None and row.value in allowed else default


def read_all(env: Env) -> dict[str, Any]:
    with env.db.read() as session:
        return {key: get(session, key) for key in KNOWN}


def put(env: Env, ctx: RequestContext, *, caller: Caller, key: str, value: str) -> None:
    """Change a setting (admins only; audited with the old and new value)."""
    permissions.require(caller, "change", Target("setting"), what=f"setting {key}")
    if key not in KNOWN:
        raise InvalidInput(f"unknown setting {key!r}")
    allowed, _ = KNOWN[key]
    if value not in allowed:
        raise InvalidInput(f"{key} must be one of: {', '.join(allowed)}")
    now = env.clock()
    with env.db.write() as session:
        old = get(session, key)
        row = session.get(SiteSetting, key)
        if row is None:
            session.add(SiteSetting(key=key, value=value, updated_at=now,
                                    updated_by=caller.account_ref))
        else:
            row.value, row.updated_at, row.updated_by = value, now, caller.account_ref
        audit.record(session, ctx, caller=caller, action="site_setting.update", when=now,
                     target=f"setting:{key}", details={"old": old, "new": value})


def two_factor_required(session: Session, account: Account) -> bool:
    """Whether the site demands 2FA of this account (by its role)."""
    rule = get(session, REQUIRE_2FA)
    return rule == "all" or (rule == "admins" and account.role == "admin")
