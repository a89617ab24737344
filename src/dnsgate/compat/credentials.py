"""From a credential as a client presented it to a Caller, and to the zone a
name lives in: the steps every facade shares (the services authenticate)."""

from __future__ import annotations

from collections.abc import Sequence

from dnsgate.compat import basicauth
from dnsgate.domain import names, tokens
from dnsgate.services import auth
from dnsgate.services.context import Caller, Env, ZoneInfo
from dnsgate.services.zones import visible_zones


def credential_text(presented: basicauth.Presented) -> str:
    """The token or API key text: the password, or ``dg_<username>_<password>``
    when the username is the token id (with or without ``dg_``) and the
    password its secret."""
    password = presented.password.strip()
    if presented.placement == "bearer" or tokens.parse(password) is not None:
        return password
    token_id = presented.username.strip()
    if token_id.startswith(f"{tokens.TOKEN_PREFIX}_"):
        token_id = token_id[len(tokens.TOKEN_PREFIX) + 1:]
    joined = f"{tokens.TOKEN_PREFIX}_{token_id}_{password}"
    return joined if token_id and tokens.parse(joined) is not None else password


def authenticate(env: Env, presented: basicauth.Presented) -> Caller:
    return auth.authenticate_credential(env, credential_text(presented))


def reachable_zones(env: Env, caller: Caller) -> list[ZoneInfo]:
    """The zones this credential reaches, longest name first (a token: its one zone)."""
    if caller.token_zone is not None and caller.principal.token is not None:
        return [caller.token_zone]
    with env.db.read() as session:
        zones = visible_zones(session, caller, env.clock())
    return sorted(zones, key=lambda z: len(names.labels(z.name)), reverse=True)


def zone_of(zones: Sequence[ZoneInfo], name: str) -> ZoneInfo | None:
    """The deepest of ``zones`` that holds ``name`` (``zones`` longest first)."""
    return next((z for z in zones if names.is_at_or_below(name, z.name)), None)
