"""Who is calling, from where: the inputs every service needs besides its own."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from dnsgate.backends.registry import BackendRegistry
from dnsgate.db.engine import Database
from dnsgate.db.group_commit import GroupCommit
from dnsgate.db.zone_locks import ZoneLocks
from dnsgate.domain.policy import Address, Principal, ZonePolicy
from dnsgate.services.refusals import Refusals
from dnsgate.throttling.ratelimit import RateLimiter

ActorType = Literal["account", "token", "api_key", "system"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Env:
    """The long-lived things services use: database, server key, backends."""

    db: Database
    key: bytes
    backends: BackendRegistry
    limiter: RateLimiter
    clock: Callable[[], datetime] = utcnow
    zone_locks: ZoneLocks = field(default_factory=ZoneLocks)
    #: refused requests: counted, logged, audited per minute (this process's share)
    refusals: Refusals = field(default_factory=Refusals)
    #: the hot writes' commit pipeline (group commit) on ``db``
    commits: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "commits", GroupCommit(self.db))


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    """A zone row with its policy, as the services use it."""

    id: int
    name: str
    backend_id: int
    backend_name: str
    provider: str
    visibility: str
    approval: str
    realm_quota: int | None
    ttl_min: int
    ttl_max: int
    default_ttl: int
    policy: ZonePolicy


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal plus how to name it in the audit log."""

    principal: Principal
    actor_type: ActorType
    actor_id: str
    token_zone: ZoneInfo | None = None  # a token's one zone, loaded with it

    @property
    def account_id(self) -> int:
        return self.principal.account_id

    @property
    def account_ref(self) -> int | None:
        """The account to store as "done by" (None for the system itself)."""
        return None if self.actor_type == "system" else self.principal.account_id

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin and self.principal.token is None


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where a request came from; stamped on its audit events."""

    source_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    surface: str = "api"
    address: Address | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.source_ip:
            try:
                object.__setattr__(self, "address", ipaddress.ip_address(self.source_ip))
            except ValueError:
                object.__setattr__(self, "address", None)


SYSTEM_CONTEXT = RequestContext(surface="cli")

#: The operator at the console (CLI): an admin that is no account.
SYSTEM_CALLER = Caller(
    principal=Principal(account_id=0, account_active=True, is_admin=True, realms=()),
    actor_type="system", actor_id="cli")
