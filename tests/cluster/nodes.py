"""Several real ``dnsgate serve`` processes on one PostgreSQL database.

A node is ``python -m dnsgate serve`` on its own free loopback HTTP port and
DNS port, with its own data dir and log file (its output goes to the file, so
a chatty node can never block on a full pipe). The nodes of a cluster share
``DNSGATE_DATABASE_URL`` and ``DNSGATE_RATE_LIMIT_STORAGE`` (Redis), as two
nodes behind a load balancer would.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.dns.tools import free_dns_port
from tests.support.server import DNSGATE, cli_env, free_port, stop

START_TIMEOUT = 60.0  # a node starts in ~2 s; a busy shared machine takes longer
#: Every node of every test shares it, so the tokens of the template database
#: (HMAC under this key) are valid on all of them.
SECRET_KEY = "cluster-test-secret-key-0123456789abcdef0123"


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the node, before exec: SIGKILL when the test process ends, however it
    ends (a timeout or a kill of pytest must not leave nodes behind)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Node:
    """One running ``dnsgate serve``."""

    name: str
    http_port: int
    dns_port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill_9(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight requests die with it."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    """Nodes that share one database and one rate-limit store."""

    database_url: str
    redis_url: str
    nodes: list[Node] = field(default_factory=list)

    def stop(self) -> None:
        for node in self.nodes:
            stop(node.process)


def node_env(data_dir: Path, database_url: str, redis_url: str, dns_port: int,
             settings: dict[str, str]) -> dict[str, str]:
    """The environment of one node: ``settings`` are ``DNSGATE_*`` names without the prefix."""
    env = cli_env(data_dir, database_url, DNSGATE_SECRET_KEY=SECRET_KEY,
                  DNSGATE_RATE_LIMIT_STORAGE=redis_url, DNSGATE_DNS_HOST="127.0.0.1",
                  DNSGATE_DNS_PORT=str(dns_port), DNSGATE_LOG_LEVEL="warning")
    env.update({f"DNSGATE_{key.upper()}": value for key, value in settings.items()})
    return env


def start_nodes(workdir: Path, database_url: str, redis_url: str, count: int,
                settings: dict[str, str]) -> list[Node]:
    """Start ``count`` nodes at once and wait until each answers ``/healthz``."""
    nodes: list[Node] = []
    try:
        for index in range(count):
            name = "ab"[index] if count <= 2 else str(index)
            data_dir = workdir / f"node-{name}"
            data_dir.mkdir(parents=True)
            http_port, dns_port = free_port(), free_dns_port()
            env = node_env(data_dir, database_url, redis_url, dns_port, settings)
            log_path = workdir / f"node-{name}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [*DNSGATE, "serve", "--host", "127.0.0.1", "--port", str(http_port)],
                    env=env, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent)
            nodes.append(Node(name, http_port, dns_port, process, log_path))
        for node in nodes:
            _wait_healthy(node)
    except BaseException:
        for node in nodes:
            stop(node.process)
        raise
    return nodes


def _wait_healthy(node: Node) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            if node.process.poll() is not None:
                raise AssertionError(f"node {node.name} exited early:\n{node.log()}")
            try:
                if client.get(f"{node.base}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"node {node.name} did not answer /healthz:\n{node.log()}")
