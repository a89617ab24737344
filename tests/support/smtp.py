"""A real SMTP server on a free loopback port (aiosmtpd) that keeps every
message it receives, for tests of mail-sending features.

``with smtp_sink() as sink``: ``sink.port``; ``sink.messages`` (parsed
``email.message.EmailMessage``s, oldest first); ``sink.wait_for(to)`` blocks
until a message to that address arrives; ``sink.link(to, path)`` pulls the
first ``http(s)://...<path>...`` link out of the newest such message.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.server import free_port


class SmtpSink:
    """The aiosmtpd handler: stores each message it is given."""

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content or envelope.content,
                                    policy=policy.default)
        with self._arrived:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self._arrived.notify_all()
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 10.0
                 ) -> EmailMessage:
        """The newest message to ``address`` once at least ``count`` have arrived."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.to(address)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {address} within {timeout} s")
                self._arrived.wait(left)
            return self.to(address)[-1]

    def link(self, address: str, path: str, *, count: int = 1) -> str:
        """The link to ``path`` in the newest message to ``address``."""
        body = self.wait_for(address, count=count).get_content()
        found = re.search(rf"https?://\S+{re.escape(path)}\S*", body)
        assert found, body
        return found.group(0)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
