"""Forgot password, reset by link, and change while signed in (views over
``services/password_reset.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.background import BackgroundTask

from dnsgate.domain.errors import InvalidInput, RateLimited
from dnsgate.services import password_reset
from dnsgate.web import deps, outbox
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/password")


def _limited(request: Request, template: str, exc: RateLimited, **values: Any) -> Response:
    response = render(request, template, 429, errors={
        "": f"Too many requests. Try again in {exc.retry_after} seconds."}, **values)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


# --- forgot ----------------------------------------------------------------------

def _forgot(request: Request, status: int = 200, form: dict[str, Any] | None = None,
            errors: dict[str, str] | None = None) -> Response:
    return render(request, "password_forgot.html", status, form=form or {},
                  errors=errors or {}, can_mail=outbox.mailer(request) is not None)


@router.get("/forgot")
async def forgot_page(request: Request) -> Response:
    return _forgot(request)


@router.post("/forgot")
async def forgot(request: Request) -> Response:
    """The same answer, at the same speed, whether or not an account matches:
    the mail goes out after the response."""
    env, ctx = deps.ui(request).env, deps.context(request)
    data = await deps.form(request)
    shown = {"login": data.get("login")}
    if not data.text("login"):
        return _forgot(request, 422, shown, {"login": "Enter your username or e-mail address."})
    mailer = outbox.mailer(request)
    if mailer is None:
        return _forgot(request, 503, shown, {"": outbox.NO_MAIL})
    try:
        mails = await password_reset.reset_mails(env, ctx, mailer, login=data.text("login"))
    except RateLimited as exc:
        return _limited(request, "password_forgot.html", exc, form=shown, can_mail=True)
    response = redirect(request, "/ui/login", done="reset_sent")
    if mails:
        response.background = BackgroundTask(outbox.deliver, mailer, mails)
    return response


# --- reset by link -----------------------------------------------------------------

def _reset(request: Request, token: str, status: int = 200,
           errors: dict[str, str] | None = None, problem: str = "") -> Response:
    return render(request, "password_reset.html", status, token=token, errors=errors or {},
                  problem=problem, form={})


@router.get("/reset")
async def reset_page(request: Request) -> Response:
    token = request.query_params.get("token", "")[:200]
    try:
        password_reset.check_reset_link(deps.ui(request).env, token=token)
    except InvalidInput as exc:
        return _reset(request, "", 400, problem=exc.message)
    return _reset(request, token)


@router.post("/reset")
async def reset(request: Request) -> Response:
    env, ctx = deps.ui(request).env, deps.context(request)
    data = await deps.form(request)
    token = data.text("token")[:200]
    errors = _new_password_errors(data.get("password"), data.get("confirm"))
    if errors:
        return _reset(request, token, 422, errors)
    try:
        await password_reset.reset_password(env, ctx, token=token,
                                            password=data.get("password"))
    except InvalidInput as exc:
        if exc.code == "weak_password":
            return _reset(request, token, 422, {"password": exc.message})
        return _reset(request, "", 400, problem=exc.message)
    return redirect(request, "/ui/login", done="password_reset")


def _new_password_errors(password: str, confirm: str) -> dict[str, str]:
    if not password:
        return {"password": "Choose a new password."}
    if password != confirm:
        return {"confirm": "The two passwords differ."}
    return {}


# --- change while signed in ----------------------------------------------------------

def _change(request: Request, status: int = 200,
            errors: dict[str, str] | None = None) -> Response:
    return render(request, "password_change.html", status, errors=errors or {}, form={})


@router.get("/change")
async def change_page(request: Request, who: deps.Viewer) -> Response:
    return _change(request)


@router.post("/change")
async def change(request: Request, who: deps.Viewer) -> Response:
    env, ctx = deps.ui(request).env, deps.context(request)
    data = await deps.form(request)
    errors = _new_password_errors(data.get("password"), data.get("confirm"))
    if not data.get("current"):
        errors["current"] = "Enter your current password."
    if errors:
        return _change(request, 422, errors)
    try:
        await password_reset.change_password(env, ctx, caller=who.caller,
                                             session_id=who.session.id,
                                             current=data.get("current"),
                                             password=data.get("password"))
    except InvalidInput as exc:
        field = "current" if exc.code == "wrong_password" else "password"
        return _change(request, 422, {field: exc.message})
    except RateLimited as exc:
        return _limited(request, "password_change.html", exc, form={})
    return redirect(request, "/ui/password/change", done="password_changed")
