"""A TCP proxy in front of an HTTP upstream that can be told to fail.

Modes: ``pass`` (forward), ``down`` (accept, then close at once), ``slow``
(accept, read, never answer), ``error`` (answer HTTP 500), ``garbage``
(answer 200 with a body that is not JSON). Adapters are pointed at the proxy
so a contract test can break the upstream mid-run and check that dnsgate
answers 502/504 and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Literal

Mode = Literal["pass", "down", "slow", "error", "garbage"]
FAULTS: tuple[Mode, ...] = ("down", "slow", "error", "garbage")

_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
          b"Content-Length: 27\r\nConnection: close\r\n\r\n{\"error\": \"internal error\"}")
_GARBAGE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n"
            b"Connection: close\r\n\r\n<html>oops</html>\x00\xff\xfe")


class FaultProxy:
    """Listens on 127.0.0.1:<port> on its own thread and event loop."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def fault(self, mode: Mode) -> Iterator[None]:
        """Fail every new connection in ``mode`` until the block ends."""
        self.mode = mode
        try:
            yield
        finally:
            self.mode = "pass"

    def stop(self) -> None:
        """Cancel open connections (``slow`` leaves some hanging), stop, close the loop."""
        async def cancel_handlers() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0)  # let the closed transports drop their sockets

        asyncio.run_coroutine_threadsafe(cancel_handlers(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        try:
            if mode == "pass":
                await self._forward(reader, writer)
                return
            if mode == "down":
                return
            await reader.readuntil(b"\r\n\r\n")
            if mode == "slow":
                await asyncio.sleep(3600)
            writer.write(_ERROR if mode == "error" else _GARBAGE)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
