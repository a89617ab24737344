"""The error tree of dnsgate. Nothing here knows about HTTP.

    DnsgateError                  code
    ├── InvalidInput              invalid_request
    │   ├── InvalidName           invalid_name
    │   └── InvalidRecord         invalid_record
    ├── Denied                    (the code of the Decision)
    ├── NotFound                  not_found
    │   └── ZoneNotFound          zone_not_found
    ├── Conflict                  conflict
    ├── RateLimited               rate_limited
    ├── DatabaseBusy              database_busy
    └── BackendUnavailable        backend_unavailable
        └── BackendTimeout        backend_unavailable (on timeout)

Each surface maps the tree to its own format in one place
(``api/errors.py`` for the REST API, one mapper per protocol facade).
"""

from __future__ import annotations


class DnsgateError(Exception):
    """Base of every error dnsgate raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DnsgateError):
    code = "invalid_request"


class InvalidName(InvalidInput):
    code = "invalid_name"


class InvalidRecord(InvalidInput):
    code = "invalid_record"


class Denied(DnsgateError):
    """A decision said no; ``code`` is the decision's code."""

    code = "forbidden"


class Unauthenticated(DnsgateError):
    """No credential, or one that does not authenticate (one generic message)."""

    code = "token_invalid"


class NotFound(DnsgateError):
    code = "not_found"


class ZoneNotFound(NotFound):
    code = "zone_not_found"


class Conflict(DnsgateError):
    code = "conflict"


class RateLimited(DnsgateError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseBusy(DnsgateError):
    """The database's write lock could not be had in time; nothing was written."""

    code = "database_busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendUnavailable(DnsgateError):
    """The provider failed; ``detail`` is for the audit log only, never the client."""

    code = "backend_unavailable"

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class BackendTimeout(BackendUnavailable):
    pass
