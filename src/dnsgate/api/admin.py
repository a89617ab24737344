"""``/api/v1/admin``: accounts, backends, zones, grants, realms, tokens, audit."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from sqlalchemy import select

from dnsgate.api.account import mint_token
from dnsgate.api.deps import AdminCaller, Ctx, EnvDep
from dnsgate.api.openapi import problems
from dnsgate.api.params import EventId, RowId
from dnsgate.api.schemas import (
    AccountCreate,
    AccountCreated,
    AccountPublic,
    AuditEventPublic,
    BackendCreate,
    BackendPublic,
    BackendUpdate,
    GrantCreate,
    GrantPublic,
    ProviderPublic,
    RealmAdminCreate,
    RealmPublic,
    RealmReject,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TransferPublic,
    TransferUpdate,
    ZoneCreate,
    ZonePolicyPublic,
    ZoneUpdate,
)
from dnsgate.api.views import grant_public, provider_public, realm_public, zone_public
from dnsgate.backends import registry
from dnsgate.db.models import Zone
from dnsgate.domain.errors import ZoneNotFound
from dnsgate.security.passwords import off_loop
from dnsgate.services import (
    accounts,
    audit_log,
    backends,
    grants,
    realms,
    secondaries,
    tokens,
    zones,
)
from dnsgate.services.audit_log import AuditQuery
from dnsgate.services.zones import PolicyUpdate, find_zone, find_zone_by_id, normalize_zone

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/accounts", response_model=list[AccountPublic])
async def list_accounts(env: EnvDep, _: AdminCaller, q: str | None = None) -> list[AccountPublic]:
    return [AccountPublic.model_validate(a) for a in accounts.list_accounts(env, query=q)]


@router.post("/accounts", response_model=AccountCreated, status_code=201, responses=problems(409))
async def create_account(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                         body: AccountCreate) -> AccountCreated:
    """Create an account; without a password, a one-time password is returned."""
    password = body.password or accounts.generate_password()
    account = await off_loop(accounts.create_account, env, ctx, caller=caller, name=body.name,
                             email=body.email, admin=body.admin, password=password)
    return AccountCreated.model_validate({**AccountPublic.model_validate(account).model_dump(),
                                          "password": None if body.password else password})


@router.post("/accounts/{account_id}/disable", response_model=AccountPublic,
             responses=problems(409))
async def disable_account(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                          account_id: RowId) -> AccountPublic:
    return AccountPublic.model_validate(accounts.set_status(
        env, ctx, caller=caller, account_id=account_id, status="disabled"))


@router.post("/accounts/{account_id}/enable", response_model=AccountPublic, responses=problems(409))
async def enable_account(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                         account_id: RowId) -> AccountPublic:
    return AccountPublic.model_validate(accounts.set_status(
        env, ctx, caller=caller, account_id=account_id, status="active"))


@router.get("/providers", response_model=list[ProviderPublic])
async def list_providers(_: AdminCaller) -> list[ProviderPublic]:
    """Every provider dnsgate can front, with its capabilities and configuration schema."""
    return [provider_public(p) for _, p in sorted(registry.PROVIDERS.items())]


@router.get("/backends", response_model=list[BackendPublic])
async def list_backends(env: EnvDep, _: AdminCaller) -> list[BackendPublic]:
    return [BackendPublic.model_validate(b) for b in backends.list_backends(env)]


@router.post("/backends", response_model=BackendPublic, status_code=201, responses=problems(409))
async def add_backend(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                      body: BackendCreate) -> BackendPublic:
    """Save a provider connection; ``POST .../check`` then tests it."""
    return BackendPublic.model_validate(backends.add_backend(
        env, ctx, caller=caller, name=body.name, provider=body.provider, config=body.config))


@router.get("/backends/{name}", response_model=BackendPublic)
async def get_backend(env: EnvDep, _: AdminCaller, name: str) -> BackendPublic:
    return BackendPublic.model_validate(backends.get_backend(env, name))


@router.patch("/backends/{name}", response_model=BackendPublic, responses=problems(502))
async def update_backend(env: EnvDep, ctx: Ctx, caller: AdminCaller, name: str,
                         body: BackendUpdate) -> BackendPublic:
    """Edit the configuration or enable/disable; disabling stops every write at once."""
    return BackendPublic.model_validate(await backends.update_backend(
        env, ctx, caller=caller, name=name, config=body.config, status=body.status))


@router.post("/backends/{name}/check", response_model=BackendPublic, responses=problems(502))
async def check_backend(env: EnvDep, ctx: Ctx, caller: AdminCaller, name: str) -> BackendPublic:
    """Test the credentials now; the result is stored as the backend's health."""
    return BackendPublic.model_validate(await backends.check_backend(
        env, ctx, caller=caller, name=name))


@router.get("/backends/{name}/zones", response_model=list[str], responses=problems(502))
async def backend_zones(env: EnvDep, _: AdminCaller, name: str) -> list[str]:
    """Zones the backend's credentials reach, to pick one to offer."""
    return await backends.backend_zones(env, name)


@router.get("/zones", response_model=list[ZonePolicyPublic])
async def list_zones(env: EnvDep, _: AdminCaller) -> list[ZonePolicyPublic]:
    with env.db.read() as session:
        ids = list(session.scalars(select(Zone.id).order_by(Zone.name, Zone.id)))
        return [zone_public(find_zone_by_id(session, i)) for i in ids]


def _policy(body: ZoneCreate | ZoneUpdate, *, only_set: bool) -> PolicyUpdate:
    """Body fields as a PolicyUpdate; an explicit null clears max_depth/realm_quota."""
    fields = body.model_dump(exclude_unset=only_set, exclude={"zone", "backend"})
    return PolicyUpdate(
        **{k: v for k, v in fields.items() if v is not None},
        clear_max_depth="max_depth" in fields and fields["max_depth"] is None,
        clear_realm_quota="realm_quota" in fields and fields["realm_quota"] is None)


@router.post("/zones", response_model=ZonePolicyPublic, status_code=201,
             responses=problems(409, 502))
async def add_zone(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                   body: ZoneCreate) -> ZonePolicyPublic:
    """Offer a zone of a backend (created with SOA/NS on the built-in backend)."""
    info = await zones.add_zone(env, ctx, caller=caller, zone=body.zone, backend=body.backend,
                                policy=_policy(body, only_set=False))
    return zone_public(info)


@router.get("/zones/{zone}", response_model=ZonePolicyPublic)
async def get_zone(env: EnvDep, _: AdminCaller, zone: str) -> ZonePolicyPublic:
    with env.db.read() as session:
        return zone_public(find_zone(session, normalize_zone(zone)))


@router.patch("/zones/{zone}", response_model=ZonePolicyPublic)
async def update_zone(env: EnvDep, ctx: Ctx, caller: AdminCaller, zone: str,
                      body: ZoneUpdate) -> ZonePolicyPublic:
    """Edit a zone's policy; fields left out stay as they are, null clears."""
    return zone_public(zones.update_zone(env, ctx, caller=caller, zone=zone,
                                         update=_policy(body, only_set=True)))


@router.get("/zones/{zone}/transfer", response_model=TransferPublic)
async def get_transfer(env: EnvDep, _: AdminCaller, zone: str) -> TransferPublic:
    """A built-in zone's secondaries (TSIG secrets are never shown)."""
    name = normalize_zone(zone)
    with env.db.read() as session:
        settings = secondaries.load_all(session).get(name)
    if settings is None:
        raise ZoneNotFound(f"zone {name} is not a built-in zone")
    return TransferPublic.model_validate(settings.public())


@router.put("/zones/{zone}/transfer", response_model=TransferPublic, responses=problems(409))
async def set_transfer(env: EnvDep, ctx: Ctx, caller: AdminCaller, zone: str,
                       body: TransferUpdate) -> TransferPublic:
    """Set whom to NOTIFY and who may AXFR a built-in zone."""
    settings = secondaries.set_transfer(
        env, ctx, caller=caller, zone=zone, notify=body.notify,
        allow_transfer=body.allow_transfer, tsig=body.tsig_keys)
    return TransferPublic.model_validate(settings.public())


@router.get("/zones/{zone}/grants", response_model=list[GrantPublic])
async def list_grants(env: EnvDep, _: AdminCaller, zone: str) -> list[GrantPublic]:
    return [grant_public(g, z) for g, z in grants.list_grants(env, zone=zone)]


@router.post("/zones/{zone}/grants", response_model=GrantPublic, status_code=201,
             responses=problems(409))
async def create_grant(env: EnvDep, ctx: Ctx, caller: AdminCaller, zone: str,
                       body: GrantCreate) -> GrantPublic:
    grant = grants.create_grant(env, ctx, caller=caller, zone=zone, account_id=body.account_id,
                                types=body.types, operations=body.operations,
                                max_realms=body.max_realms, expires_at=body.expires_at)
    return grant_public(grant, normalize_zone(zone))


@router.post("/grants/{grant_id}/revoke", response_model=GrantPublic)
async def revoke_grant(env: EnvDep, ctx: Ctx, caller: AdminCaller, grant_id: RowId) -> GrantPublic:
    grant = grants.revoke_grant(env, ctx, caller=caller, grant_id=grant_id)
    with env.db.read() as session:
        zone = session.get(Zone, grant.zone_id)
        return grant_public(grant, zone.name if zone else "")


@router.get("/realms", response_model=list[RealmPublic])
async def list_realms(env: EnvDep, _: AdminCaller, status: str | None = None,
                      zone: str | None = None,
                      account_id: RowId | None = None) -> list[RealmPublic]:
    """Realms, e.g. ``?status=pending`` for the approvals queue."""
    return [realm_public(r, z) for r, z in realms.list_realms(
        env, account_id=account_id, status=status, zone=zone)]


@router.post("/realms", response_model=RealmPublic, status_code=201, responses=problems(409, 502))
async def create_realm(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                       body: RealmAdminCreate) -> RealmPublic:
    """Create an approved realm for an account."""
    realm = realms.request_realm(env, ctx, caller=caller, zone=body.zone, name=body.name,
                                 kind=body.kind, types=body.types, operations=body.operations,
                                 account_id=body.account_id)
    return realm_public(*realms.find_realm(env, caller, realm.id))


@router.post("/realms/{realm_id}/approve", response_model=RealmPublic, responses=problems(409))
async def approve_realm(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                        realm_id: RowId) -> RealmPublic:
    realms.decide_realm(env, ctx, caller=caller, realm_id=realm_id, status="approved")
    return realm_public(*realms.find_realm(env, caller, realm_id))


@router.post("/realms/{realm_id}/reject", response_model=RealmPublic, responses=problems(409))
async def reject_realm(env: EnvDep, ctx: Ctx, caller: AdminCaller, realm_id: RowId,
                       body: RealmReject) -> RealmPublic:
    """Reject a pending realm; the reason is shown to the account."""
    realms.decide_realm(env, ctx, caller=caller, realm_id=realm_id, status="rejected",
                        reason=body.reason)
    return realm_public(*realms.find_realm(env, caller, realm_id))


@router.post("/realms/{realm_id}/revoke", response_model=RealmPublic, responses=problems(409))
async def revoke_realm(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                       realm_id: RowId) -> RealmPublic:
    realms.decide_realm(env, ctx, caller=caller, realm_id=realm_id, status="revoked")
    return realm_public(*realms.find_realm(env, caller, realm_id))


@router.get("/tokens", response_model=list[TokenPublic])
async def list_tokens(env: EnvDep, _: AdminCaller, q: str | None = None,
                      account_id: RowId | None = None,
                      realm_id: RowId | None = None) -> list[TokenPublic]:
    """Tokens by id prefix (``q``), owner or realm."""
    return [TokenPublic.model_validate(t) for t in tokens.list_tokens(
        env, account_id=account_id, realm_id=realm_id, query=q)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, responses=problems(409))
async def create_token(env: EnvDep, ctx: Ctx, caller: AdminCaller,
                       body: TokenCreate) -> TokenCreated:
    """Mint a token for any approved realm."""
    return mint_token(env, ctx, caller, body)


@router.post("/tokens/{token_id}/revoke", response_model=TokenPublic)
async def revoke_token(env: EnvDep, ctx: Ctx, caller: AdminCaller, token_id: str) -> TokenPublic:
    return TokenPublic.model_validate(
        tokens.revoke_token(env, ctx, caller=caller, token_id=token_id))


@router.get("/audit", response_model=list[AuditEventPublic])
async def audit(env: EnvDep, _: AdminCaller, account_id: RowId | None = None,
                token_id: str | None = None, zone: str | None = None,
                outcome: str | None = None, action: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: int = Query(default=100, ge=1, le=1000),
                before_id: EventId | None = None) -> list[AuditEventPublic]:
    """The audit log, newest first; page with ``before_id``."""
    events = audit_log.query(env, AuditQuery(
        account_id=account_id, token_id=token_id,
        zone=normalize_zone(zone) if zone else None, outcome=outcome, action=action,
        since=since, until=until, limit=limit, before_id=before_id))
    return [AuditEventPublic.model_validate(e) for e in events]
