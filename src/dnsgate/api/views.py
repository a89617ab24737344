"""ORM rows to public schemas (one place, so every route shows the same shape)."""

from __future__ import annotations

import dataclasses

from dnsgate.api.schemas import (
    GrantPublic,
    HandoverPublic,
    ProviderPublic,
    RealmPublic,
    ZonePolicyPublic,
)
from dnsgate.backends.base import Provider
from dnsgate.db.models import Grant, Realm
from dnsgate.services.context import ZoneInfo


def realm_public(realm: Realm, zone: str) -> RealmPublic:
    return RealmPublic(
        id=realm.id, account_id=realm.account_id, zone=zone, name=realm.name, kind=realm.kind,
        types=list(realm.types), operations=list(realm.ops), status=realm.status,
        reason=realm.reason, created_at=realm.created_at, decided_at=realm.decided_at,
        pending_reasons=list(realm.pending_reasons or ()),
        handover=[HandoverPublic(name=h["name"], type=h["type"], writer=h["writer"],
                                 written_by=h["written_by"]) for h in realm.handover or ()])


def grant_public(grant: Grant, zone: str) -> GrantPublic:
    return GrantPublic(
        id=grant.id, zone=zone, account_id=grant.account_id, types=grant.types,
        operations=grant.ops, max_realms=grant.max_realms, expires_at=grant.expires_at,
        revoked_at=grant.revoked_at)


def zone_public(info: ZoneInfo) -> ZonePolicyPublic:
    p = info.policy
    return ZonePolicyPublic(
        name=info.name, backend=info.backend_name, provider=info.provider,
        status="active" if p.active else "disabled", visibility=info.visibility,
        approval=info.approval, min_depth=p.min_depth, max_depth=p.max_depth,
        apex_allowed=p.apex_allowed, types=sorted(p.types),
        operations=[o for o in ("read", "create", "update", "delete") if o in p.operations],
        realm_quota=info.realm_quota, ttl_min=info.ttl_min, ttl_max=info.ttl_max,
        default_ttl=info.default_ttl, attached_labels=sorted(p.attached_labels))


def provider_public(provider: Provider) -> ProviderPublic:
    caps = dataclasses.asdict(provider.capabilities)
    caps["record_types"] = sorted(caps["record_types"])
    return ProviderPublic(name=provider.name, description=provider.description,
                          capabilities=caps,
                          config_schema=provider.config_model.model_json_schema())
