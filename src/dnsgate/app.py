"""The ASGI application: ``create_app(settings)``; nothing runs at import time."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from dnsgate.api import (
    account,
    account_backends,
    admin,
    auth,
    errors,
    explain,
    history,
    openapi,
    records,
)
from dnsgate.backends.registry import BackendRegistry
from dnsgate.compat import acmedns, dyndns2, httpreq, pdns_api
from dnsgate.config import Settings
from dnsgate.db import migrate
from dnsgate.db.engine import Database
from dnsgate.dnsserver.server import ServerConfig
from dnsgate.dnsserver.service import ThreadedDnsService
from dnsgate.edge import refused
from dnsgate.edge.middleware import EdgeMiddleware
from dnsgate.observability import scrape
from dnsgate.observability.middleware import ObservedRequests
from dnsgate.services import journal_retention, refusal_audit
from dnsgate.services.context import Env
from dnsgate.services.setup import ensure_builtin_backend
from dnsgate.throttling.ratelimit import RateLimiter
from dnsgate.web import create_ui
from dnsgate.workers import WorkerRole

API_V1 = "/api/v1"


def build_env(settings: Settings, db: Database | None = None,
              worker: WorkerRole | None = None) -> Env:
    """The services' environment for these settings (shared by app and CLI).

    ``worker``: this process is one of ``serve --workers``; the rate limits
    and SQLite's write gate are then shared with the other workers."""
    if db is None and settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite file lives here
    database = db or Database(settings.effective_database_url,
                              process_locks=worker.process_locks if worker else None,
                              busy_timeout=settings.db_busy_timeout)
    key = settings.server_key()
    return Env(
        db=database,
        key=key,
        backends=BackendRegistry(database, key, allow_networks=settings.byod_allow_network_list,
                                 byod_providers=settings.byod_provider_names),
        limiter=RateLimiter({
            "token_write": settings.write_rate_limit,
            "login_ip": settings.login_ip_limit,
            "login_user": settings.login_user_limit,
            "mail_ip": settings.mail_ip_limit,
            "mail_account": settings.mail_account_limit,
            "register_ip": settings.register_ip_limit,
        }, settings.rate_limit_storage, shared_memory=worker.arrivals if worker else None),
    )


#: Young collections between two full ones (CPython's default is 10).
FULL_COLLECTION_EVERY = 1000


def tune_garbage_collector() -> None:
    """Keep the collector's full passes from pausing requests.

    What start-up built (the zone views: objects per record) lives as long as
    the process and is frozen out of the collector. What comes later (each
    change replaces its RRset's objects in a view) is not: under a PUT load a
    full pass came every ~0.3 s and grew to 10-55 ms within 12 s, holding the
    GIL from the API and the DNS thread alike, and set the p99 (bench/README.md).
    Full passes now come 100 times less often; cyclic garbage that reached the
    oldest generation waits longer, nothing else changes.
    """
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def create_app(settings: Settings, *, env: Env | None = None, migrate_on_start: bool = True,
               own_process: bool = False, worker: WorkerRole | None = None) -> FastAPI:
    """The whole HTTP surface. The schema is migrated and the ``builtin``
    backend ensured when the app starts (the lifespan), not at import.

    ``own_process``: the app is the process (``dnsgate serve``), so it may
    tune process-wide things such as the garbage collector. ``worker``: one
    of ``serve --workers``; only worker 0 serves DNS, the others wake it for
    the zones they changed."""
    environment = env or build_env(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            migrate.upgrade(environment.db)
        ensure_builtin_backend(environment)
        environment.db.start_checkpointer()
        dns = None
        if settings.dns_port and (worker is None or worker.serves_dns):
            dns = ThreadedDnsService(environment.db, ServerConfig(
                host=settings.dns_host, port=settings.dns_port,
                amplification=settings.dns_amplification,
                tcp_per_client=settings.dns_tcp_per_client),
                wakeups=worker.wakeup_receiver if worker else None)
            await dns.start()
        elif settings.dns_port and worker is not None and worker.wakeup_sender is not None:
            environment.db.on_commit(worker.wakeup_sender)
        if worker is not None and worker.serves_dns:
            worker.dns_ready.set()
        elif worker is not None:
            await asyncio.to_thread(worker.dns_ready.wait)
        app.state.dns = dns
        if own_process:
            tune_garbage_collector()
        refusals = asyncio.create_task(refusal_audit.flush_every_minute(environment))
        retention = asyncio.create_task(journal_retention.prune_hourly(
            environment, keep_days=settings.journal_keep_days,
            keep_changes=settings.journal_keep_changes))
        try:
            yield
        finally:
            retention.cancel()
            refusals.cancel()
            await asyncio.to_thread(refusal_audit.flush, environment, everything=True)
            if dns is not None:
                await dns.stop()
            await environment.backends.aclose()
            await environment.limiter.aclose()
            if env is None:
                environment.db.dispose()

    app = FastAPI(
        title="dnsgate",
        version="0.1.0",
        description="Scoped credentials in front of every DNS provider.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.env = environment
    errors.install(app)
    openapi.install(app)

    # First in the route table, as plain Starlette routes: the requests served
    # most (the machine PUT, the dyndns2 update), then the probes. FastAPI's own
    # route there took a fifth more CPU per PUT (api/records.py); the PUT's
    # FastAPI route below stays for the OpenAPI document.
    first = [Route(f"{API_V1}{records.PUT_PATH}", records.put_rrset_plain, methods=["PUT"]),
             dyndns2.update_route()]
    app.router.routes[0:0] = first

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        if environment.db.ping():
            return JSONResponse({"status": "ready"})
        return errors.problem("not_ready", "database unreachable", status=503)

    # Routes match in order, and every route passed costs time: the machine
    # surfaces (records, then the protocol facades at their clients' paths)
    # come before the management API.
    app.include_router(records.router, prefix=API_V1)
    app.include_router(history.router, prefix=API_V1)
    app.include_router(dyndns2.router)
    app.include_router(acmedns.router)
    app.include_router(httpreq.router)
    app.include_router(pdns_api.router)
    # (compat routers above this line)
    for module in (auth, account, account_backends, admin, explain):
        app.include_router(module.router, prefix=API_V1)
    # the web UI (src/dnsgate/web): its own app, so its pages, errors and
    # security headers never mix with the API's problem+json
    app.mount("/ui", create_ui(settings, environment))

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    if settings.metrics_enabled:
        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            """This process's metrics, in Prometheus' text format (observability/scrape.py)."""
            await scrape.authorize(request, environment, settings.metrics_allow_networks)
            return scrape.response(request, [environment.refusals.registry])

    def edge_refused(scope: dict[str, Any], status: int, code: str) -> None:
        refused.report(environment, Request(scope), status=status, code=code,
                       surface=refused.surface_of(scope.get("path", "")))

    app.add_middleware(EdgeMiddleware, proxies=settings.trusted_proxy_networks,
                       max_body=settings.max_body_bytes, proxy_header=settings.proxy_header,
                       on_refused=edge_refused)
    # outermost: counts what the edge refuses too (observability/middleware.py)
    app.add_middleware(ObservedRequests, routes=app, surface_of=refused.surface_of,
                       access=settings.access_log)
    return app
