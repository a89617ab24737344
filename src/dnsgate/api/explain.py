"""``GET /api/v1/whoami/explain``: which row of ``decide()``'s table answers an
operation for this credential (a realm token or an account API key)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from dnsgate.api.deps import AnyCaller, Ctx, EnvDep
from dnsgate.api.schemas import ExplainRealm, Explanation
from dnsgate.services import explain as service

router = APIRouter(tags=["records"])


@router.get("/whoami/explain", response_model=Explanation)
async def explain(env: EnvDep, ctx: Ctx, caller: AnyCaller,
                  zone: str = Query(max_length=255), name: str = Query(max_length=255),
                  type: str = Query(max_length=16),
                  operation: Literal["read", "create", "update", "delete"] = Query()
                  ) -> Explanation:
    """Would this credential be allowed ``operation`` on the RRset ``name``/``type``?

    The answer is ``decide()``'s: allowed, its code, the row of its table that
    decided, and the realm that allowed it or, for a denial, came closest.
    422 for a bad name, type or operation; 404 for a zone this credential may not see.
    """
    found = service.explain(env, ctx, caller=caller, zone=zone, name=name, rtype=type,
                            operation=operation)
    realm = found.realm
    return Explanation(
        allowed=found.allowed, code=found.code, row=found.row,
        realm=ExplainRealm(id=realm.id, name=realm.name, kind=realm.kind) if realm else None)
