"""Mail from UI pages: the configured mailer (None without SMTP), and sending
that never turns a mail failure into a 500 (the mailer logged it)."""

from __future__ import annotations

from fastapi import Request

from dnsgate.mail import mailer as mailing
from dnsgate.mail.mailer import Mail, Mailer, MailFailed
from dnsgate.web import deps

NO_MAIL = ("This server has no e-mail set up, so it cannot send this link. "
           "Ask an admin of this dnsgate.")


def mailer(request: Request) -> Mailer | None:
    return mailing.from_settings(deps.ui(request).settings)


async def deliver(mailer: Mailer, mails: list[Mail]) -> bool:
    """Send each mail; False if any did not go out."""
    sent = True
    for mail in mails:
        try:
            await mailer.send(mail)
        except MailFailed:
            sent = False
    return sent
