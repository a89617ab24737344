"""Request and response bodies of the REST API (``ThingCreate`` / ``ThingPublic``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from dnsgate.api.params import Int32, Lifetime, RowId, Seconds32
from dnsgate.security import text


class Strict(BaseModel):
    """A request body: no unknown fields, and no text that is not Unicode
    (lone surrogates) or holds NUL, anywhere in it (``security.text``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _clean_text(cls, data: Any) -> Any:
        if not text.is_clean_tree(data):
            raise PydanticCustomError(
                "string_unicode", "text must be Unicode without NUL characters")
        return data


class Problem(BaseModel):
    """An error (RFC 9457 problem details) with dnsgate's stable ``code``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:dnsgate:problem:<code>")
    title: str
    status: int
    code: str = Field(description="stable machine-readable reason")
    detail: str
    request_id: str | None = Field(default=None, description="as in X-Request-ID")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="every invalid field (invalid_request only)")


class RRsetFields(BaseModel):
    """The fields of a PUT body without :class:`Strict`'s text walk: only for raw
    JSON with no ``\\u`` escape, which cannot carry NUL or a lone surrogate (the
    JSON parser refuses both as bytes). The hot PUT path validates with it in
    Rust alone (``api/records.py``): with the walk, pydantic builds a dict first,
    ~10 us more per PUT in bench/profile_put.py."""

    model_config = ConfigDict(extra="forbid")

    ttl: Int32 | None = Field(default=None, description="seconds; the zone default if omitted")
    records: list[str] = Field(min_length=1, max_length=100)


class RRsetBody(RRsetFields, Strict):
    """A PUT body (``{"ttl"?, "records": [...]}``), checked as every body is."""


class RRsetPublic(BaseModel):
    name: str
    type: str
    ttl: int
    records: list[str]


class RRsetChange(Strict):
    action: Literal["upsert", "delete"]
    name: str
    type: str
    ttl: Int32 | None = None
    records: list[str] = Field(default_factory=list, max_length=100)


class RRsetBatch(Strict):
    changes: list[RRsetChange] = Field(min_length=1, max_length=1000)


class BatchResult(BaseModel):
    upserted: list[RRsetPublic]
    deleted: list[dict[str, str]]
    changed: int
    unchanged: int


class ZoneSummary(BaseModel):
    name: str
    backend: str
    visibility: str


class ZonePolicyPublic(BaseModel):
    name: str
    backend: str
    provider: str
    status: str
    visibility: str
    approval: str
    min_depth: int
    max_depth: int | None
    apex_allowed: bool
    types: list[str]
    operations: list[str]
    realm_quota: int | None
    ttl_min: int
    ttl_max: int
    default_ttl: int
    #: Labels this zone attaches to their parent (docs/security.md), besides the built-in list.
    attached_labels: list[str] = []


class ZonePolicyFields(Strict):
    """A zone's policy; in an update, fields left out stay and null clears."""

    min_depth: Int32 | None = None
    max_depth: Int32 | None = None
    apex_allowed: bool | None = None
    types: list[str] | None = None
    operations: list[str] | None = None
    realm_quota: Int32 | None = None
    ttl_min: Int32 | None = None
    ttl_max: Int32 | None = None
    default_ttl: Int32 | None = None
    attached_labels: list[str] | None = Field(default=None, max_length=32)


class ZoneCreate(ZonePolicyFields):
    zone: str
    backend: str = "builtin"
    visibility: Literal["public", "private", "invite"] = "private"
    approval: Literal["auto", "admin"] = "admin"


class ZoneUpdate(ZonePolicyFields):
    status: Literal["active", "disabled"] | None = None
    visibility: Literal["public", "private", "invite"] | None = None
    approval: Literal["auto", "admin"] | None = None


class RealmScopePublic(BaseModel):
    id: int
    zone: str
    name: str
    kind: str
    types: list[str]
    operations: list[str]


class TokenScopePublic(BaseModel):
    id: str
    names: list[str] | None
    types: list[str] | None
    operations: list[str] | None
    cidrs: list[str] | None
    not_before: datetime | None
    expires_at: datetime | None


class Whoami(BaseModel):
    kind: Literal["token", "api_key"]
    account_id: int
    admin: bool
    realms: list[RealmScopePublic]
    token: TokenScopePublic | None = None


class ExplainRealm(BaseModel):
    id: int
    name: str
    kind: str


class Explanation(BaseModel):
    """What ``decide()`` answers, the row of its table that decided, and the realm
    that allowed it (for a denial: the realm that came closest; null: none)."""

    allowed: bool
    code: str
    row: int
    realm: ExplainRealm | None


class AccountCreate(Strict):
    name: str
    email: str | None = None
    admin: bool = False
    password: str | None = Field(default=None, min_length=10, max_length=1024)


class AccountPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    role: str
    status: str
    created_at: datetime


class AccountCreated(AccountPublic):
    password: str | None = Field(default=None, description="one-time password, shown once")


class BackendPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    provider: str
    status: str
    owner_account_id: int | None
    config: dict[str, Any] = Field(description="secrets shown as **********")
    health_status: str = Field(description="unknown, ok or failing (from the last check)")
    health_message: str
    health_checked_at: datetime | None
    created_at: datetime


class BackendCreate(Strict):
    name: str = Field(max_length=64)
    provider: str
    config: dict[str, Any] = Field(default_factory=dict)


class BackendUpdate(Strict):
    config: dict[str, Any] | None = Field(
        default=None, description="fields to change; a secret sent as ********** is kept")
    status: Literal["active", "disabled"] | None = None


class ProviderPublic(BaseModel):
    name: str
    description: str
    capabilities: dict[str, Any]
    config_schema: dict[str, Any] = Field(description="JSON Schema of the configuration")


class GrantCreate(Strict):
    account_id: RowId
    types: list[str] | None = None
    operations: list[str] | None = None
    max_realms: Int32 | None = None
    expires_at: datetime | None = None


class GrantPublic(BaseModel):
    id: int
    zone: str
    account_id: int
    types: list[str] | None
    operations: list[str] | None
    max_realms: int | None
    expires_at: datetime | None
    revoked_at: datetime | None


class RealmCreate(Strict):
    zone: str
    name: str = Field(description="relative to the zone, absolute, or @ for the apex")
    kind: Literal["host", "subtree", "below"] = "host"
    types: list[str] | None = None
    operations: list[str] | None = None


class RealmAdminCreate(RealmCreate):
    account_id: RowId


class HandoverPublic(BaseModel):
    name: str
    type: str
    writer: str  # self | operator | account | outside
    written_by: str


class RealmPublic(BaseModel):
    id: int
    account_id: int
    zone: str
    name: str
    kind: str
    types: list[str]
    operations: list[str]
    status: str
    reason: str
    created_at: datetime
    decided_at: datetime | None
    #: Why the claim waits for an admin (docs/security.md): apex, attached_base,
    #: existing_data, backend_unreadable, zone_approval.
    pending_reasons: list[str] = []
    #: RRsets others wrote inside the claim when it was made: what approval hands over.
    handover: list[HandoverPublic] = []


class RealmReject(Strict):
    reason: str = Field(min_length=1, max_length=1000)


class TokenCreate(Strict):
    realm_id: RowId
    name: str = Field(default="", max_length=100)
    names: list[str] | None = None
    types: list[str] | None = None
    operations: list[str] | None = None
    cidrs: list[str] | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    expires_in: Lifetime | None = Field(default=None, description="seconds from now")
    max_idle_seconds: Seconds32 | None = None


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    realm_id: int
    account_id: int
    name: str
    names: list[str] | None
    types: list[str] | None
    operations: list[str] | None = Field(validation_alias=AliasChoices("ops", "operations"))
    cidrs: list[str] | None
    not_before: datetime | None
    expires_at: datetime | None
    max_idle_seconds: int | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    use_count: int
    created_at: datetime


class TokenCreated(TokenPublic):
    token: str = Field(description="the full token; shown once, never stored")


class ApiKeyLogin(Strict):
    username: str
    password: str
    totp_code: str | None = Field(default=None, max_length=32)  # needed once 2FA is on
    name: str = Field(default="", max_length=100)
    expires_in: Lifetime | None = Field(default=None, description="seconds from now")


class ApiKeyCreate(Strict):
    name: str = Field(default="", max_length=100)
    expires_in: Lifetime | None = Field(default=None, description="seconds from now")


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    account_id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the full key; shown once, never stored")


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    time: datetime
    actor_type: str
    actor_id: str
    account_id: int | None
    action: str
    zone: str | None
    name: str | None
    rtype: str | None
    target: str | None
    source_ip: str | None
    user_agent: str | None
    request_id: str | None
    outcome: str
    code: str
    details: dict[str, object]


class TransferUpdate(Strict):
    """Secondaries of a built-in zone; each list given replaces the old one."""

    notify: list[str] | None = Field(default=None, description="ADDRESS[:PORT] to NOTIFY")
    allow_transfer: list[str] | None = Field(default=None, description="networks allowed AXFR")
    tsig_keys: list[str] | None = Field(
        default=None, description="NAME:ALGORITHM:BASE64SECRET keys allowed AXFR")


class TsigKeyPublic(BaseModel):
    name: str
    algorithm: str


class TransferPublic(BaseModel):
    zone: str
    notify: list[str]
    allow_transfer: list[str]
    tsig_keys: list[TsigKeyPublic]
