"""A throwaway Redis server for the tests.

``redis_server()`` starts Debian's ``redis-server`` on a free port on
127.0.0.1 with a fresh temporary directory as its working directory, waits
until it answers PING, and on exit stops it and removes the directory::

    with redis_server() as redis:
        limiter = RateLimiter(limits, redis.url)  # redis://127.0.0.1:PORT/0
        ...

Nothing is persisted (no RDB snapshots, no append-only file) and no Unix
socket is opened: the data is worth nothing after the test. ``protected-mode``
stays on, which is fine for a server that listens on loopback only.

The binary is ``$DNSGATE_TEST_REDIS_SERVER`` or else ``redis-server`` on the
PATH; if it is missing this raises ``RedisUnavailable``. It never skips: a run
that was asked for Redis and cannot have it must fail (scripts/test installs
the ``redis-server`` package).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BINARY_ENV = "DNSGATE_TEST_REDIS_SERVER"
HOST = "127.0.0.1"
_START_ATTEMPTS = 5  # a free port can be taken by someone else before Redis binds it
_START_TIMEOUT = 30.0


class RedisUnavailable(RuntimeError):
    """``redis-server`` is not installed, or it would not start."""


@dataclass(frozen=True)
class RedisServer:
    """A running server: where it listens."""

    host: str
    port: int
    workdir: Path

    @property
    def url(self) -> str:
        """The URL of database 0 (a ``limits`` storage URI, as the settings take it)."""
        return f"redis://{self.host}:{self.port}/0"

    def command(self, *args: str) -> str:
        """One command over a plain socket; the first line of the reply (e.g. ``+PONG``)."""
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(_encode(args))
            return sock.makefile("rb").readline().decode().rstrip("\r\n")


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Start a throwaway server; stop it and delete its directory after."""
    binary = find_binary()
    workdir = Path(tempfile.mkdtemp(prefix="dnsgate-redis-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        process, server = _start(binary, workdir)
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def find_binary() -> str:
    """The ``redis-server`` to run, or a clear error."""
    binary = os.environ.get(BINARY_ENV) or shutil.which("redis-server")
    if not binary or not Path(binary).is_file():
        raise RedisUnavailable(
            "redis-server not found. Install it with `apt-get install redis-server` "
            f"(scripts/test does), or point ${BINARY_ENV} at the binary.")
    return binary


# -- internals ---------------------------------------------------------------


def _start(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], RedisServer]:
    log = workdir / "redis.log"
    for _attempt in range(_START_ATTEMPTS):
        port = _free_port()
        args = [binary, "--bind", HOST, "--port", str(port), "--dir", str(workdir),
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", str(log)]
        process = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        server = RedisServer(HOST, port, workdir)
        if _wait_ready(process, server):
            return process, server
        _stop(process)
        if "Address already in use" not in _tail(log):
            break
    raise RedisUnavailable(f"the Redis test server did not start:\n--- {log} ---\n{_tail(log)}")


def _wait_ready(process: subprocess.Popen[bytes], server: RedisServer) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            if server.command("PING") == "+PONG":
                return True
        time.sleep(0.02)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # SIGTERM: redis-server exits at once (nothing to save)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _encode(args: tuple[str, ...]) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return "(no log)"
