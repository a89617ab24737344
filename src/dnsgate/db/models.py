"""SQLAlchemy models: one class per concept of DESIGN.md.

Lists of record types, operations, names and CIDRs are JSON arrays: they are
read whole, never queried by element. Times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON,
                           list[dict[str, Any]]: JSON}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16), default="user")  # admin | user
    status: Mapped[str] = mapped_column(String(16), default="active")  # pending|active|disabled
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(255))  # sealed; set while enrolling
    totp_enabled_at: Mapped[datetime | None]  # 2FA is on once this is set
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # no code is used twice
    recovery_codes: Mapped[list[str] | None] = mapped_column(JSON)  # keyed hashes, one-time
    email_verified_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]  # reset links issued before it are void
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An account's key for the management API (separate from realm tokens)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Backend(Base):
    """One configured connection to a provider."""

    __tablename__ = "backends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    health_status: Mapped[str] = mapped_column(String(16), default="unknown")
    health_message: Mapped[str] = mapped_column(Text, default="")
    health_checked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Zone(Base):
    """A zone offered to accounts, with its policy.

    A platform zone's name is unique among platform zones; a zone of an
    account's own backend is unique for that account alone, so it never takes
    a name from the platform or from another account.
    """

    __tablename__ = "zones"
    __table_args__ = (
        Index("uq_zones_platform_name", "name", unique=True,
              sqlite_where=text("owner_account_id IS NULL"),
              postgresql_where=text("owner_account_id IS NULL")),
        Index("uq_zones_owner_name", "owner_account_id", "name", unique=True,
              sqlite_where=text("owner_account_id IS NOT NULL"),
              postgresql_where=text("owner_account_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253))
    backend_id: Mapped[int] = mapped_column(ForeignKey("backends.id"))
    #: The backend's owner (bring your own DNS), copied here for the name's uniqueness.
    owner_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    visibility: Mapped[str] = mapped_column(String(16), default="private")  # public|private|invite
    approval: Mapped[str] = mapped_column(String(16), default="admin")  # auto | admin
    min_depth: Mapped[int] = mapped_column(Integer, default=1)
    max_depth: Mapped[int | None] = mapped_column(Integer)
    apex_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_types: Mapped[list[str]] = mapped_column(JSON)
    allowed_ops: Mapped[list[str]] = mapped_column(JSON)
    realm_quota: Mapped[int | None] = mapped_column(Integer)
    ttl_min: Mapped[int] = mapped_column(Integer, default=60)
    ttl_max: Mapped[int] = mapped_column(Integer, default=86400)
    default_ttl: Mapped[int] = mapped_column(Integer, default=300)
    #: Labels the zone attaches to their parent besides domain/ownership.py's list.
    attached_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ZoneChange(Base):
    """One RRset change of a zone, in order: the change journal (db/journal.py).

    ``seq`` counts per zone without gaps; ``old``/``new`` are the whole RRset
    before and after (``{"ttl", "records"}``, NULL when absent).
    """

    __tablename__ = "zone_changes"
    __table_args__ = (
        UniqueConstraint("zone_id", "seq"),
        # By RRset (history of a name, who wrote what). No index by request id:
        # undoing a request scans one zone's journal, which retention bounds,
        # and every write would pay for the index.
        Index("ix_zone_changes_rrset", "zone_id", "name", "rtype"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(253))
    rtype: Mapped[str] = mapped_column(String(16))
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: False for a provider write made without reading first: ``old`` is not known.
    old_known: Mapped[bool] = mapped_column(Boolean, default=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64), default="")
    account_id: Mapped[int | None] = mapped_column(Integer)
    realm_id: Mapped[int | None] = mapped_column(Integer)
    surface: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(default=utcnow)
    serial: Mapped[int | None] = mapped_column(BigInteger)


class Grant(Base):
    """An account's access to a private or invite zone."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("zone_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    types: Mapped[list[str] | None] = mapped_column(JSON)
    ops: Mapped[list[str] | None] = mapped_column(JSON)
    max_realms: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Realm(Base):
    """An account's claim on part of a zone."""

    __tablename__ = "realms"
    __table_args__ = (Index("ix_realms_zone_status", "zone_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(253))
    kind: Mapped[str] = mapped_column(String(16))  # host | subtree | below
    types: Mapped[list[str]] = mapped_column(JSON)
    ops: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    #: Why a claim waits for an admin (domain/claims.py rows 3-6).
    pending_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: RRsets others wrote inside the claim when it was made: what approval hands over.
    handover: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Token(Base):
    """A machine credential of one realm; the secret is kept only as an HMAC."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    names: Mapped[list[str] | None] = mapped_column(JSON)
    types: Mapped[list[str] | None] = mapped_column(JSON)
    ops: Mapped[list[str] | None] = mapped_column(JSON)
    cidrs: Mapped[list[str] | None] = mapped_column(JSON)
    not_before: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    max_idle_seconds: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    use_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only record of every mutation and every denial."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_time", "time"),
        Index("ix_audit_actor", "actor_type", "actor_id"),
        Index("ix_audit_zone", "zone"),
        Index("ix_audit_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    time: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))  # account | token | api_key | system
    actor_id: Mapped[str] = mapped_column(String(64), default="")
    account_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(253))
    name: Mapped[str | None] = mapped_column(String(253))
    rtype: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(255))
    source_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # success | denied | error
    code: Mapped[str] = mapped_column(String(64), default="ok")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BuiltinZone(Base):
    """A zone held by the built-in backend. Its SOA is these columns, not an RRset
    row, so bumping the serial is one UPDATE."""

    __tablename__ = "builtin_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    serial: Mapped[int] = mapped_column(BigInteger)
    primary_ns: Mapped[str] = mapped_column(String(253))
    hostmaster: Mapped[str] = mapped_column(String(253))
    refresh: Mapped[int] = mapped_column(Integer, default=3600)
    retry: Mapped[int] = mapped_column(Integer, default=600)
    expire: Mapped[int] = mapped_column(Integer, default=1209600)
    minimum: Mapped[int] = mapped_column(Integer, default=300)
    soa_ttl: Mapped[int] = mapped_column(Integer, default=3600)
    #: Secondaries to NOTIFY after each change, as "address:port".
    notify: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Transfer ACL: source networks, and TSIG keys [{name, algorithm, secret}].
    allow_transfer: Mapped[list[str]] = mapped_column(JSON, default=list)
    tsig_keys: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BuiltinRRset(Base):
    """One RRset of a built-in zone."""

    __tablename__ = "builtin_rrsets"
    __table_args__ = (UniqueConstraint("zone_id", "name", "rtype"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("builtin_zones.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(253))
    rtype: Mapped[str] = mapped_column(String(16))
    ttl: Mapped[int] = mapped_column(Integer)
    records: Mapped[list[str]] = mapped_column(JSON)


class WebSession(Base):
    """A signed-in browser. Only an HMAC of the cookie's value is stored, so a
    copy of the database does not let anyone in."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC of the cookie value
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # the absolute limit, whatever the activity
    source_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class Invite(Base):
    """An admin's invitation to register (the link's secret is stored as an HMAC)."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]


class SiteSetting(Base):
    """A setting admins change at runtime (e.g. who must use 2FA), as JSON."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"))


def table_of(model: type[Base]) -> Table:
    """A model's Table, for Core statements on hot paths."""
    return cast(Table, model.__table__)


class LoginFailure(Base):
    """Consecutive failed sign-ins of one throttle key (throttling/login_throttle.py),
    in the database so that every worker of every node counts one guesser once.
    ``key`` is the SHA-256 of the throttle key (a name and an address)."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[datetime] = mapped_column(index=True)  # the pruning's index
