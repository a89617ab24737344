"""Run ``dnsgate`` as a real process on a free loopback port."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DNSGATE = [sys.executable, "-m", "dnsgate"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dnsgate(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, Any]:
    """Run a ``dnsgate ... --json`` command; its one JSON object (it must succeed)."""
    result = subprocess.run([*DNSGATE, *args], env=env, input=stdin, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def cli_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSGATE_")}
    env.update(DNSGATE_DATA_DIR=str(data_dir), DNSGATE_DATABASE_URL=database_url,
               DNSGATE_DNS_PORT="0")  # tests that want DNS pass a free port
    env.update(extra)
    return env


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    banner: str

    def one_time_password(self) -> str:
        match = re.search(r"one-time admin password: (\S+)", self.banner)
        assert match, self.banner
        return match.group(1)


@contextmanager
def running(command: str, env: dict[str, str], timeout: float = 30.0,
            args: Sequence[str] = ()) -> Iterator[Server]:
    """Start ``dnsgate <command> --port P [args]`` and wait until /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [*DNSGATE, command, "--host", "127.0.0.1", "--port", str(port), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"dnsgate exited early:\n{''.join(lines)}")
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        response = httpx.get(f"{base}/healthz", timeout=5)
        assert response.status_code == 200
        yield Server(base, process, "".join(lines))
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a server process; kill it if it does not go within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
