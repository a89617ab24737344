"""``/api/v1/account/backends``: an account's own backends (bring your own DNS),
as the portal's "My backends" pages manage them (account API key).

Only the caller's own backends exist here (any other name is 404). They reach
public addresses only (``DNSGATE_BYOD_ALLOW_NETWORKS`` opens more), and what
their provider says never comes back: a check, a zone listing or an error
gives a category (``health_category``; ``backends/failures.py``).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field

from dnsgate.api.deps import AccountCaller, Ctx, EnvDep
from dnsgate.api.openapi import problems
from dnsgate.api.schemas import BackendCreate, BackendPublic, BackendUpdate, RealmPublic, Strict
from dnsgate.api.views import realm_public
from dnsgate.backends import failures
from dnsgate.domain.errors import BackendUnavailable
from dnsgate.services import backends, own_dns, realms

router = APIRouter(prefix="/account/backends", tags=["account"])


class OwnBackendPublic(BackendPublic):
    health_category: str | None = Field(default=None, description=(
        "why the last check failed: cannot_connect, timed_out, tls_error, auth_refused, "
        "bad_answer or zone_unknown (null: not checked, or passed)"))


class OwnZoneUse(Strict):
    zone: str = Field(description="a zone the backend serves (see GET .../zones)")
    name: str = Field(default="", description="the name to claim in it; empty: the apex")
    kind: Literal["host", "subtree", "below"] = "subtree"


def _public(view: backends.BackendView) -> OwnBackendPublic:
    return OwnBackendPublic.model_validate(view)


@router.get("", response_model=list[OwnBackendPublic])
async def my_backends(env: EnvDep, caller: AccountCaller) -> list[OwnBackendPublic]:
    """My own backends, secrets masked."""
    return [_public(b) for b in backends.list_backends(env, owner_account_id=caller.account_id)]


@router.post("", response_model=OwnBackendPublic, status_code=201, responses=problems(409))
async def add_my_backend(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                         body: BackendCreate) -> OwnBackendPublic:
    """Bring my own DNS: a provider the operator opened to accounts, at a public
    address; ``POST .../{name}/check`` then tests it."""
    return _public(backends.add_own_backend(
        env, ctx, caller=caller, name=body.name, provider=body.provider, config=body.config,
        allowed=env.backends.byod_providers))


@router.get("/{name}", response_model=OwnBackendPublic)
async def my_backend(env: EnvDep, caller: AccountCaller, name: str) -> OwnBackendPublic:
    return _public(backends.own_backend(env, caller, name))


@router.patch("/{name}", response_model=OwnBackendPublic)
async def update_my_backend(env: EnvDep, ctx: Ctx, caller: AccountCaller, name: str,
                            body: BackendUpdate) -> OwnBackendPublic:
    """Edit the configuration (a secret sent as ********** is kept; a new address
    passes the egress guard) or disable / enable it."""
    backends.own_backend(env, caller, name)
    return _public(await backends.update_backend(env, ctx, caller=caller, name=name,
                                                 config=body.config, status=body.status))


@router.post("/{name}/check", response_model=OwnBackendPublic, responses=problems(502))
async def check_my_backend(env: EnvDep, ctx: Ctx, caller: AccountCaller,
                           name: str) -> OwnBackendPublic:
    """Test the connection now; the result (a category when it failed) is stored."""
    backends.own_backend(env, caller, name)
    return _public(await backends.check_backend(env, ctx, caller=caller, name=name))


@router.get("/{name}/zones", response_model=list[str], responses=problems(502))
async def my_backend_zones(env: EnvDep, caller: AccountCaller, name: str) -> list[str]:
    """The zones my backend's credentials reach."""
    backends.own_backend(env, caller, name)
    return await backends.backend_zones(env, name)


@router.post("/{name}/zones", response_model=RealmPublic, status_code=201,
             responses=problems(409, 502))
async def use_my_zone(env: EnvDep, ctx: Ctx, caller: AccountCaller, name: str,
                      body: OwnZoneUse) -> RealmPublic:
    """Use a zone of my backend for a realm of mine alone (approved: my own DNS)."""
    view = backends.own_backend(env, caller, name)
    try:
        realm = await own_dns.use_zone(env, ctx, caller=caller, backend_id=view.id,
                                       zone=body.zone, name=body.name, kind=body.kind)
    except BackendUnavailable as exc:  # its provider's words stay out of the answer
        raise failures.account_error(exc) from None
    return realm_public(*realms.find_realm(env, caller, realm.id))


@router.delete("/{name}", status_code=204, response_class=Response)
async def delete_my_backend(env: EnvDep, ctx: Ctx, caller: AccountCaller, name: str) -> Response:
    """Delete my backend, with the zones it serves and my realms and tokens in
    them (as deleting my account would); records at the provider stay."""
    await backends.delete_own_backend(env, ctx, caller=caller, name=name)
    return Response(status_code=204)
