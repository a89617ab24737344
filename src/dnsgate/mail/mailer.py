"""Outgoing mail: plain text through one SMTP server (stdlib ``smtplib``).

Sending blocks on the network, so it runs in a worker thread with a timeout
and never on the event loop. A failure is logged by kind (never the
password, never the message body: it carries a secret link) and raised as
:class:`MailFailed`, which pages turn into a clear message, not a 500.
Without ``DNSGATE_SMTP_HOST`` there is no mailer at all (:func:`from_settings`
returns None) and the features that need mail say so.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from dnsgate.config import Settings

log = logging.getLogger("dnsgate.mail")


class MailFailed(Exception):
    """The SMTP server could not be reached or refused the message."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Mailer:
    """One SMTP server and how to talk to it."""

    host: str
    port: int
    sender: str
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    public_url: str = ""

    def link(self, path: str) -> str:
        """An absolute link into the UI for a mail (``path`` starts with ``/``)."""
        return self.public_url.rstrip("/") + path

    async def send(self, mail: Mail) -> None:
        """Send one message; MailFailed (already logged) when it does not go out."""
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send, mail), self.timeout + 1)
        except (OSError, smtplib.SMTPException, TimeoutError) as exc:
            log.warning("mail to %s not sent: %s (SMTP %s:%s)", _domain(mail.to),
                        type(exc).__name__, self.host, self.port)
            raise MailFailed(type(exc).__name__) from None

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(mail.body)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def from_settings(settings: Settings) -> Mailer | None:
    """The configured mailer, or None when no SMTP server is configured."""
    if not settings.smtp_host:
        return None
    return Mailer(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                  security=settings.smtp_security, username=settings.smtp_username,
                  password=(settings.smtp_password.get_secret_value()
                            if settings.smtp_password else None),
                  timeout=settings.smtp_timeout_seconds, public_url=settings.public_url)


def _domain(address: str) -> str:
    """Only the domain of a recipient goes into the log."""
    return "*@" + address.rpartition("@")[2]
