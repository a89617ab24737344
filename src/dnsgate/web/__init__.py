"""The web UI (account portal and admin console): server-rendered Jinja2 + htmx
over the same services as every other surface. Mounted at ``/ui``."""

from dnsgate.web.app import create_ui

__all__ = ["create_ui"]
