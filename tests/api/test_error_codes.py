"""Every error code raised in ``src/`` has an HTTP status in ``api/errors.py``.

The codes are read from the source: ``code="..."`` arguments (and the other
branch of a ``code="a" if ... else "b"``), ``code = "..."`` class attributes,
the denials of the decision tables, and the few codes built from a value.
"""

from __future__ import annotations

import re
from pathlib import Path

import dnsgate
from dnsgate.edge.codes import ErrorCode, status_of

CODES = {code.value for code in ErrorCode}

SRC = Path(dnsgate.__file__).parent
#: Codes that are never raised: an audit event's success, and the outcomes of
#: requests that answer the same whatever happened (so the answer tells nothing).
NOT_ERRORS = {"ok", "no_account", "not_applicable"}
#: Codes made from a value: ``registration_{mode}`` for a closed or invite-only sign-up.
BUILT = {"registration_closed", "registration_invite"}

_PATTERNS = (
    re.compile(r"""\bcode\s*=\s*["']([a-z0-9_]+)["'](?:\s+if\s[^\n]*?\belse\s+["']([a-z0-9_]+)["'])?"""),
    re.compile(r"""\b_(?:deny|no)\(\s*["']([a-z0-9_]+)["']"""),  # policy and permissions tables
)


def raised_codes() -> dict[str, str]:
    """code -> the first file that names it."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        for pattern in _PATTERNS:
            for match in pattern.finditer(text):
                for code in match.groups():
                    if code:
                        found.setdefault(code, str(path.relative_to(SRC)))
    return found


def test_the_scan_finds_codes_of_each_kind():
    codes = raised_codes()
    for known in ("last_admin", "self_lockout", "not_found", "token_revoked",
                  "name_outside_realm", "admin_required", "link_invalid"):
        assert known in codes, known


def test_every_raised_code_has_a_status():
    missing = {code: where for code, where in raised_codes().items()
               if code not in CODES and code not in NOT_ERRORS}
    assert missing == {}, "add these codes to edge/codes.py ErrorCode"
    for code in BUILT:
        assert code in CODES


def test_conflicts_are_409():
    for code in ("conflict", "last_admin", "self_lockout"):
        assert status_of(code) == 409
