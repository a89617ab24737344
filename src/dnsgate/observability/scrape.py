"""``GET /metrics``: who may read this process's metrics, and the answer.

Served to the loopback addresses and the networks of
``DNSGATE_METRICS_ALLOW``, judged on the client address the edge settled
(behind a reverse proxy, set ``DNSGATE_TRUSTED_PROXIES``, or every request
comes from the proxy's address), and to an admin account's API key from
anywhere. Anyone else gets the API's own problem documents: 403
``forbidden`` without a credential, and the same 401/403 as the management
API with one that is not an admin's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.exposition import choose_encoder

from dnsgate.api import deps
from dnsgate.config import Network
from dnsgate.domain.errors import Denied
from dnsgate.edge.context import get_context
from dnsgate.observability import metrics
from dnsgate.services.context import Env

REFUSED = ("metrics are served to loopback, to the networks of DNSGATE_METRICS_ALLOW "
           "and to admin API keys")


def address_allowed(address: str | None, networks: Sequence[Network]) -> bool:
    """Loopback, or inside one of ``networks``."""
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or any(ip in network for network in networks)


async def authorize(request: Request, env: Env, networks: Sequence[Network]) -> None:
    """Return if the request may read the metrics; raise the refusal otherwise."""
    edge = request.scope.get("dnsgate")
    if address_allowed(edge.client_ip if edge else None, networks):
        return
    if not request.headers.get("authorization"):
        raise Denied(REFUSED, code="forbidden")
    caller = await deps.get_account_caller(request, env, await get_context(request))
    await deps.get_admin(request, env, caller)


class _Together:
    """Several registries as one collector: one exposition (OpenMetrics ends in
    one ``# EOF``, so two texts cannot simply be joined)."""

    def __init__(self, registries: Iterable[CollectorRegistry]) -> None:
        self.registries = tuple(registries)

    def collect(self) -> Iterator[Metric]:
        for registry in self.registries:
            yield from registry.collect()


def response(request: Request, others: Iterable[CollectorRegistry] = ()) -> Response:
    """This process's metrics, then those of ``others``, in the format the scraper
    accepts (Prometheus text 0.0.4 unless it asks for another)."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encode(_Together((metrics.REGISTRY, *others)))
    return Response(body, headers={"Content-Type": content_type})
