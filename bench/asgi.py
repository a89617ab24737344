"""A zero-argument app factory for running dnsgate under plain uvicorn in the benchmark.

``dnsgate serve`` passes an app object to ``uvicorn.run`` (one process, no
``--workers``); this factory lets bench/run.sh try uvicorn flags
(``BENCH_SERVER=uvicorn BENCH_UVICORN_ARGS="--workers 2"``) without changing src/:

    cd bench && uvicorn --factory asgi:create_app --port 8080 --workers 2
"""

from __future__ import annotations

from fastapi import FastAPI

from dnsgate.app import create_app as _create_app
from dnsgate.config import Settings


def create_app() -> FastAPI:
    """The same app ``dnsgate serve`` runs, from the same DNSGATE_* environment."""
    return _create_app(Settings())
