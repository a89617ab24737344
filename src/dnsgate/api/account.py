"""``/api/v1/account``: what an account does for itself (API key auth)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query

from dnsgate.api.deps import AccountCaller, Ctx, EnvDep
from dnsgate.api.openapi import problems
from dnsgate.api.params import EventId, RowId
from dnsgate.api.schemas import (
    AccountPublic,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    AuditEventPublic,
    RealmCreate,
    RealmPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    ZonePolicyPublic,
)
from dnsgate.api.views import realm_public, zone_public
from dnsgate.services import accounts, audit_log, realms, tokens
from dnsgate.services.audit_log import AuditQuery
from dnsgate.services.context import Caller, Env, RequestContext
from dnsgate.services.zones import visible_zones

router = APIRouter(prefix="/account", tags=["account"])


@router.get("", response_model=AccountPublic)
async def me(env: EnvDep, caller: AccountCaller) -> AccountPublic:
    with env.db.read() as session:
        return AccountPublic.model_validate(accounts.get_account(session, caller.account_id))


@router.get("/zones", response_model=list[ZonePolicyPublic])
async def my_zones(env: EnvDep, caller: AccountCaller) -> list[ZonePolicyPublic]:
    """Zones this account may use, with their policy."""
    with env.db.read() as session:
        return [zone_public(z) for z in visible_zones(session, caller, env.clock())]


@router.get("/realms", response_model=list[RealmPublic])
async def my_realms(env: EnvDep, caller: AccountCaller,
                    status: str | None = None) -> list[RealmPublic]:
    return [realm_public(r, z)
            for r, z in realms.list_realms(env, account_id=caller.account_id, status=status)]


@router.post("/realms", response_model=RealmPublic, status_code=201, responses=problems(409, 502))
async def request_realm(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                        body: RealmCreate) -> RealmPublic:
    """Claim a name in a zone; approved at once in auto-approve zones, else pending."""
    upstream = await realms.read_upstream(env, caller, body.zone)
    realm = realms.request_realm(env, ctx, caller=caller, zone=body.zone, name=body.name,
                                 kind=body.kind, types=body.types, operations=body.operations,
                                 upstream=upstream)
    return _realm(env, caller, realm.id)


def _realm(env: Env, caller: Caller, realm_id: int) -> RealmPublic:
    return realm_public(*realms.find_realm(env, caller, realm_id))


@router.get("/realms/{realm_id}", response_model=RealmPublic)
async def my_realm(env: EnvDep, caller: AccountCaller, realm_id: RowId) -> RealmPublic:
    return _realm(env, caller, realm_id)


@router.post("/realms/{realm_id}/revoke", response_model=RealmPublic, responses=problems(409))
async def give_up_realm(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                        realm_id: RowId) -> RealmPublic:
    """Give up a realm; its tokens stop working on their next request."""
    realms.decide_realm(env, ctx, caller=caller, realm_id=realm_id, status="revoked")
    return _realm(env, caller, realm_id)


@router.get("/tokens", response_model=list[TokenPublic])
async def my_tokens(env: EnvDep, caller: AccountCaller,
                    realm_id: RowId | None = None) -> list[TokenPublic]:
    return [TokenPublic.model_validate(t)
            for t in tokens.list_tokens(env, account_id=caller.account_id, realm_id=realm_id)]


def mint_token(env: Env, ctx: RequestContext, caller: Caller, body: TokenCreate) -> TokenCreated:
    """Create a token from a request body (shared with the admin surface)."""
    expires_at = body.expires_at
    if body.expires_in is not None:
        expires_at = env.clock() + timedelta(seconds=body.expires_in)
    row, text = tokens.create_token(
        env, ctx, caller=caller, realm_id=body.realm_id, name=body.name, names_=body.names,
        types=body.types, operations=body.operations, cidrs=body.cidrs,
        not_before=body.not_before, expires_at=expires_at,
        max_idle_seconds=body.max_idle_seconds)
    return TokenCreated.model_validate({**TokenPublic.model_validate(row).model_dump(),
                                        "token": text})


@router.post("/tokens", response_model=TokenCreated, status_code=201, responses=problems(409))
async def create_token(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                       body: TokenCreate) -> TokenCreated:
    """Mint a token for one of my realms; the secret is in this response only."""
    return mint_token(env, ctx, caller, body)


@router.post("/tokens/{token_id}/revoke", response_model=TokenPublic)
async def revoke_token(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                       token_id: str) -> TokenPublic:
    return TokenPublic.model_validate(
        tokens.revoke_token(env, ctx, caller=caller, token_id=token_id))


@router.get("/api-keys", response_model=list[ApiKeyPublic])
async def my_api_keys(env: EnvDep, caller: AccountCaller) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.model_validate(k)
            for k in accounts.list_api_keys(env, account_id=caller.account_id)]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
async def create_api_key(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                         body: ApiKeyCreate) -> ApiKeyCreated:
    expires = env.clock() + timedelta(seconds=body.expires_in) if body.expires_in else None
    key, text = accounts.create_api_key(env, ctx, caller=caller, account_id=caller.account_id,
                                        name=body.name, expires_at=expires)
    return ApiKeyCreated.model_validate({**ApiKeyPublic.model_validate(key).model_dump(),
                                         "key": text})


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyPublic)
async def revoke_api_key(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                         key_id: str) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(
        accounts.revoke_api_key(env, ctx, caller=caller, key_id=key_id, own=True))


@router.get("/audit", response_model=list[AuditEventPublic])
async def my_audit(env: EnvDep, caller: AccountCaller, zone: str | None = None,
                   outcome: str | None = None, token_id: str | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   limit: int = Query(default=100, ge=1, le=1000),
                   before_id: EventId | None = None) -> list[AuditEventPublic]:
    """My own audit events, newest first."""
    events = audit_log.query(env, AuditQuery(
        account_id=caller.account_id, token_id=token_id, zone=zone, outcome=outcome,
        since=since, until=until, limit=limit, before_id=before_id))
    return [AuditEventPublic.model_validate(e) for e in events]
