"""Settings from the environment (``DNSGATE_*``), validated by pydantic."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    """Everything configurable. Nothing reads the environment but this class."""

    model_config = SettingsConfigDict(env_prefix="DNSGATE_", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # HTTP worker processes (``serve --workers``): one per core is the rule
    workers: int = Field(default=1, ge=1, le=64)
    dns_host: str = "127.0.0.1"
    dns_port: int = 5353  # 0: no embedded DNS server
    dns_amplification: int = 4  # UDP answer <= this x query size (0: no cap)
    # open DNS TCP connections one source address may hold; more are closed at once
    dns_tcp_per_client: int = Field(default=8, ge=1)
    # seconds a write waits for SQLite's write lock before 503 database_busy
    db_busy_timeout: float = Field(default=5.0, gt=0, le=600)
    trusted_proxies: str = ""
    # the one header trusted proxies set to name the client (the other is ignored)
    proxy_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    # /metrics (Prometheus text format): requests, decisions, provider calls, DNS
    # queries, ... of this process; served to loopback, to these networks
    # (comma-separated CIDRs) and to admin API keys
    metrics_enabled: bool = True
    metrics_allow: str = ""
    max_body_bytes: int = 64 * 1024
    # the change journal (history, undo, IXFR) keeps each zone's newest
    # journal_keep_changes entries AND every entry younger than journal_keep_days
    journal_keep_days: int = Field(default=90, ge=1)
    journal_keep_changes: int = Field(default=1000, ge=1)
    write_rate_limit: str = "120/minute"
    login_ip_limit: str = "30/minute"
    login_user_limit: str = "10/minute"
    rate_limit_storage: str = "memory://"
    log_level: str = "info"
    # log lines as text or as one JSON object each (with the request id)
    log_format: Literal["text", "json"] = "text"
    # one line per HTTP request (path without the query: credentials travel there)
    access_log: bool = False
    # web UI sessions: signed out after this long without a request, and after
    # this long in any case
    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    # outgoing mail (e-mail verification, invites, password reset); no host: no mail
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(default=None, repr=False)
    smtp_from: str = "dnsgate@localhost"
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # the address people reach the UI at, for absolute links in mails
    public_url: str = "http://127.0.0.1:8080"
    # mails anyone may ask for (password reset, verification again): per address
    # and per account named; sign-ups per address
    mail_ip_limit: str = "10/hour"
    mail_account_limit: str = "3/hour"
    register_ip_limit: str = "10/hour"
    # providers an ordinary account may bring its own backend of (comma-separated;
    # empty: bring-your-own-DNS is off). Not lexicon by default: its ~90 providers
    # reach arbitrary third-party APIs. Never the built-in store.
    byod_providers: str = "powerdns,rfc2136,cloudflare,route53,netcup"
    # networks (comma-separated CIDRs) an account's own backend may reach besides
    # public unicast addresses (security/egress.py); empty: public addresses only
    byod_allow_networks: str = ""

    @field_validator("proxy_header", mode="before")
    @classmethod
    def _header_name(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("secret_key")
    @classmethod
    def _key_is_strong(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("DNSGATE_SECRET_KEY must be at least 32 characters")
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dnsgate.db').resolve()}"

    @cached_property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
            if part.strip()
        )

    @field_validator("byod_allow_networks", "metrics_allow")
    @classmethod
    def _cidrs(cls, value: str, info: ValidationInfo) -> str:
        try:
            ipaddress_networks(value)
        except ValueError as exc:
            raise ValueError(f"DNSGATE_{(info.field_name or '').upper()}: {exc}") from None
        return value

    @cached_property
    def byod_allow_network_list(self) -> tuple[Network, ...]:
        return ipaddress_networks(self.byod_allow_networks)

    @cached_property
    def metrics_allow_networks(self) -> tuple[Network, ...]:
        return ipaddress_networks(self.metrics_allow)

    @property
    def byod_provider_names(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.byod_providers.split(",") if p.strip())

    def server_key(self) -> bytes:
        """The HMAC key for credentials: from the environment, or generated once
        into the data dir (mode 0600) so it survives restarts."""
        if self.secret_key:
            return self.secret_key.encode("utf-8")
        path = self.data_dir / _KEY_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode("utf-8")


def ipaddress_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs as networks; ValueError on a bad one."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())
