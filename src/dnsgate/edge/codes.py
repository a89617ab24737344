"""Every stable error code of the HTTP surfaces, with the HTTP status it answers.

The domain raises errors with these codes (``domain/errors.py``, and the
codes of ``decide()``); each surface renders them in its own format, and the
REST API and the protocol facades take the status from here, so one code
never answers two statuses.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A code (its value, as clients see it) and its HTTP status."""

    status: int

    def __new__(cls, code: str, status: int) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        return member

    TOKEN_MISSING = ("token_missing", 401)
    TOKEN_INVALID = ("token_invalid", 401)
    TOKEN_EXPIRED = ("token_expired", 401)
    TOKEN_REVOKED = ("token_revoked", 401)
    LOGIN_FAILED = ("login_failed", 401)
    ACCOUNT_PENDING = ("account_pending", 401)
    FORBIDDEN = ("forbidden", 403)
    ADMIN_REQUIRED = ("admin_required", 403)
    ACCOUNT_DISABLED = ("account_disabled", 403)
    IP_NOT_ALLOWED = ("ip_not_allowed", 403)
    TWOFACTOR_REQUIRED = ("twofactor_required", 403)
    TWO_FA_REQUIRED = ("2fa_required", 403)
    MAIL_UNAVAILABLE = ("mail_unavailable", 403)
    REGISTRATION_INVITE = ("registration_invite", 403)
    REGISTRATION_CLOSED = ("registration_closed", 403)
    NAME_OUTSIDE_REALM = ("name_outside_realm", 403)
    TYPE_NOT_ALLOWED = ("type_not_allowed", 403)
    OPERATION_NOT_ALLOWED = ("operation_not_allowed", 403)
    ZONE_POLICY = ("zone_policy", 403)
    REALM_INACTIVE = ("realm_inactive", 403)
    ZONE_DISABLED = ("zone_disabled", 403)
    SUBTREE_REQUIRED = ("subtree_required", 403)
    CLAIM_INSIDE = ("claim_inside", 403)
    NOT_FOUND = ("not_found", 404)
    ZONE_NOT_FOUND = ("zone_not_found", 404)
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405)
    CONFLICT = ("conflict", 409)
    SELF_LOCKOUT = ("self_lockout", 409)
    LAST_ADMIN = ("last_admin", 409)
    NOT_PENDING = ("not_pending", 409)
    EMAIL_UNVERIFIED = ("email_unverified", 409)
    CHANGED_SINCE = ("changed_since", 409)
    OLD_UNKNOWN = ("old_unknown", 409)
    BODY_TOO_LARGE = ("body_too_large", 413)
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415)
    INVALID_REQUEST = ("invalid_request", 422)
    INVALID_NAME = ("invalid_name", 422)
    INVALID_RECORD = ("invalid_record", 422)
    INVALID_EMAIL = ("invalid_email", 422)
    INVALID_ROLE = ("invalid_role", 422)
    INVALID_DAYS = ("invalid_days", 422)
    WEAK_PASSWORD = ("weak_password", 422)
    WRONG_PASSWORD = ("wrong_password", 422)
    REAUTH_FAILED = ("reauth_failed", 422)
    TOTP_INVALID = ("totp_invalid", 422)
    INVITE_INVALID = ("invite_invalid", 422)
    LINK_INVALID = ("link_invalid", 422)
    LINK_EXPIRED = ("link_expired", 422)
    RATE_LIMITED = ("rate_limited", 429)
    INTERNAL_ERROR = ("internal_error", 500)
    BACKEND_UNAVAILABLE = ("backend_unavailable", 502)
    BACKEND_TIMEOUT = ("backend_timeout", 504)
    DATABASE_BUSY = ("database_busy", 503)


_STATUS = {code.value: code.status for code in ErrorCode}


def status_of(code: str, default: int = 400) -> int:
    """The HTTP status of ``code``; ``default`` for a code of no table."""
    return _STATUS.get(code, default)
