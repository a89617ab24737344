"""The services' door to ``domain/permissions.py``: a Caller as an Actor, and
one call that decides and raises."""

from __future__ import annotations

from dnsgate.domain import permissions
from dnsgate.domain.permissions import Action, Actor, Permission, Target
from dnsgate.services.context import Caller


def actor_of(caller: Caller | None, *, own: bool = False) -> Actor:
    """``caller`` as the table's Actor. None and the console are the operator;
    ``own``: the caller acts for itself only (its admin powers stay unused)."""
    if caller is None or caller.actor_type == "system":
        return Actor(account_id=None, admin=True)
    p = caller.principal
    return Actor(account_id=p.account_id, admin=caller.is_admin and not own,
                 token=p.token is not None)


def check(caller: Caller | None, action: Action, target: Target, *,
          own: bool = False) -> Permission:
    """The table's answer for ``caller``."""
    return permissions.decide(actor_of(caller, own=own), action, target)


def require(caller: Caller | None, action: Action, target: Target, *, what: str,
            own: bool = False) -> None:
    """Raise the refusal (NotFound for what the caller may not see) unless allowed."""
    permission = check(caller, action, target, own=own)
    if not permission.allowed:
        raise permissions.refusal(permission, what)
