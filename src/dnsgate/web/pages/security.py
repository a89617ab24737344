"""My account's security: two-factor sign-in (enrol with a QR code, disable,
recovery codes), my signed-in sessions, my account API keys -- views over
``services.twofactor``, ``services.sessions`` and ``services.accounts``.

Secrets (the TOTP key while enrolling, recovery codes, a new API key) are
shown on the response page of the action that made them, never put in a URL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.domain.errors import Conflict, Denied, InvalidInput
from dnsgate.domain.lifetime import status_of
from dnsgate.security.text import digits
from dnsgate.services import accounts, sessions, twofactor
from dnsgate.web import deps
from dnsgate.web.forms import FormInvalid
from dnsgate.web.render import clear_cookie, redirect, render

router = APIRouter(prefix="/security")
MAX_KEY_DAYS = 3650
PROOF_MISSING = "Enter your password or a current code."


# --- the page -----------------------------------------------------------------

def _security_page(request: Request, who: deps.Who, *, status: int = 200,
                   form: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None) -> Response:
    env = deps.ui(request).env
    now = env.clock()
    my_sessions = [
        {"row": row, "ref": sessions.session_ref(env, row.id),
         "current": row.id == who.session.id}
        for row in sessions.list_sessions(env, account_id=who.caller.account_id)]
    keys = [{"key": key, "status": status_of(key, now)}
            for key in accounts.list_api_keys(env, account_id=who.caller.account_id)]
    return render(request, "security.html", status,
                  twofactor=twofactor.status(env, account_id=who.caller.account_id),
                  sessions=my_sessions, keys=keys, form=form or {}, errors=errors or {})




@router.get("")
async def security(request: Request, who: deps.Viewer) -> Response:
    return _security_page(request, who)


# --- two-factor sign-in ---------------------------------------------------------

def _qr_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code: an SVG rendered here, as a data URI (the CSP
    allows ``img-src data:``; no script, nothing fetched from elsewhere)."""
    uri_of_svg: str = segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#000",
                                                              light="#fff")
    return uri_of_svg


def _grouped(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _setup_page(request: Request, who: deps.Who, *, status: int = 200,
                errors: dict[str, str] | None = None) -> Response:
    env = deps.ui(request).env
    enrolment = twofactor.begin_enrolment(env, deps.context(request), caller=who.caller)
    return render(request, "twofactor_setup.html", status, qr=_qr_data_uri(enrolment.uri),
                  key=_grouped(enrolment.secret), required=who.must_enrol,
                  errors=errors or {})


@router.get("/2fa/setup")
async def setup_page(request: Request, who: deps.Enrolling) -> Response:
    if twofactor.status(deps.ui(request).env, account_id=who.caller.account_id).enabled:
        return redirect(request, "/ui/security", done="2fa_already_on")
    return _setup_page(request, who)


@router.post("/2fa/setup")
async def confirm_setup(request: Request, who: deps.Enrolling) -> Response:
    env = deps.ui(request).env
    code = (await deps.form(request)).text("code")
    if not code:
        return _setup_page(request, who, status=422,
                           errors={"code": "Enter the 6-digit code from your app."})
    try:
        codes = twofactor.confirm_enrolment(env, deps.context(request), caller=who.caller,
                                            code=code)
    except InvalidInput as exc:
        return _setup_page(request, who, status=422, errors={"code": exc.message})
    except Conflict:  # already on (another tab), or never started: look again
        return redirect(request, "/ui/security/2fa/setup")
    return render(request, "recovery_codes.html", codes=codes, first=True)


def _proof(data: Any, field: str) -> str:
    proof: str = data.get(field)
    if not proof.strip():
        raise FormInvalid({field: PROOF_MISSING})
    return proof


@router.post("/2fa/disable")
async def disable(request: Request, who: deps.Viewer) -> Response:
    env = deps.ui(request).env
    try:
        proof = _proof(await deps.form(request), "disable_proof")
        await twofactor.disable(env, deps.context(request), caller=who.caller, proof=proof)
    except FormInvalid as invalid:
        return _security_page(request, who, status=422, errors=invalid.errors)
    except (InvalidInput, Denied) as exc:
        return _security_page(request, who, status=422, errors={"disable_proof": exc.message})
    except Conflict:
        return redirect(request, "/ui/security", done="2fa_already_off")
    return redirect(request, "/ui/security", done="2fa_disabled")


@router.post("/recovery-codes")
async def new_recovery_codes(request: Request, who: deps.Viewer) -> Response:
    env = deps.ui(request).env
    try:
        proof = _proof(await deps.form(request), "codes_proof")
        codes = await twofactor.regenerate_recovery_codes(env, deps.context(request),
                                                          caller=who.caller, proof=proof)
    except FormInvalid as invalid:
        return _security_page(request, who, status=422, errors=invalid.errors)
    except InvalidInput as exc:
        return _security_page(request, who, status=422, errors={"codes_proof": exc.message})
    except Conflict:
        return redirect(request, "/ui/security", done="2fa_already_off")
    return render(request, "recovery_codes.html", codes=codes, first=False)


# --- sessions -------------------------------------------------------------------

@router.post("/sessions/{session_ref}/revoke")
async def revoke_session(request: Request, who: deps.Viewer, session_ref: str) -> Response:
    env = deps.ui(request).env
    ended = sessions.revoke_session(env, deps.context(request), caller=who.caller,
                                    ref=session_ref[:64])  # NotFound: 404 page, audited
    if ended != who.session.id:
        return redirect(request, "/ui/security", done="session_revoked")
    response = redirect(request, "/ui/login", done="logged_out")
    clear_cookie(request, response, deps.SESSION_COOKIE)
    return response


# --- API keys -------------------------------------------------------------------

@router.post("/api-keys")
async def create_api_key(request: Request, who: deps.Viewer) -> Response:
    env = deps.ui(request).env
    data = await deps.form(request)
    name, days_text = data.text("key_name"), data.text("key_days")
    errors: dict[str, str] = {}
    if not name:
        errors["key_name"] = "Name the key, e.g. after the script that uses it."
    elif len(name) > 100:
        errors["key_name"] = "Use at most 100 characters."
    if days_text and not digits(days_text, maximum=MAX_KEY_DAYS):  # None, or 0
        errors["key_days"] = f"Enter whole days from 1 to {MAX_KEY_DAYS}, or leave empty."
    if errors:
        return _security_page(request, who, status=422, form=data.as_dict(), errors=errors)
    expires = env.clock() + timedelta(days=int(days_text)) if days_text else None
    key, text = accounts.create_api_key(env, deps.context(request), caller=who.caller,
                                        account_id=who.caller.account_id, name=name,
                                        expires_at=expires)
    return render(request, "api_key_created.html", key=key, secret=text)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(request: Request, who: deps.Viewer, key_id: str) -> Response:
    env = deps.ui(request).env
    # own: an admin's power over every key lives in the admin console, not here
    accounts.revoke_api_key(env, deps.context(request), caller=who.caller, key_id=key_id,
                            own=True)
    return redirect(request, "/ui/security", done="api_key_revoked")
