"""Admin: site settings (who must use 2FA) and resetting an account's 2FA."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dnsgate.api.params import RowId
from dnsgate.domain.errors import InvalidInput
from dnsgate.services import site_settings, twofactor
from dnsgate.web import deps
from dnsgate.web.render import redirect, render

router = APIRouter(prefix="/admin")

#: The choices of the "require 2FA" setting, as the page words them.
REQUIRE_2FA_CHOICES = (
    ("none", "Nobody: each person decides"),
    ("admins", "Admins: every admin account must use it"),
    ("all", "Everyone: every account must use it"),
)


@router.get("/settings")
async def settings_page(request: Request, who: deps.AdminViewer) -> Response:
    values = site_settings.read_all(deps.ui(request).env)
    return render(request, "admin/settings.html", form=values, errors={},
                  require_2fa_choices=REQUIRE_2FA_CHOICES)


@router.post("/settings")
async def save_settings(request: Request, who: deps.AdminViewer) -> Response:
    env = deps.ui(request).env
    data = await deps.form(request)
    value = data.text(site_settings.REQUIRE_2FA)
    try:
        site_settings.put(env, deps.context(request), caller=who.caller,
                          key=site_settings.REQUIRE_2FA, value=value)
    except InvalidInput:
        return render(request, "admin/settings.html", 422, form=data.as_dict(),
                      require_2fa_choices=REQUIRE_2FA_CHOICES,
                      errors={site_settings.REQUIRE_2FA: "Choose one of the options."})
    return redirect(request, "/ui/admin/settings", done="settings_saved")


@router.post("/accounts/{account_id}/reset-2fa")
async def reset_2fa(request: Request, who: deps.AdminViewer, account_id: RowId) -> Response:
    twofactor.reset(deps.ui(request).env, deps.context(request), caller=who.caller,
                    account_id=account_id)  # an unknown account: NotFound, 404
    return redirect(request, f"/ui/admin/accounts/{account_id}", done="2fa_reset")
