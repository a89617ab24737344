"""What "My backends" and the admin's backends pages share: the provider picker
and the generated add/edit form, rendered, parsed and saved the same way."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import Request
from fastapi.responses import Response

from dnsgate.backends import registry
from dnsgate.backends.base import Provider
from dnsgate.domain.errors import Conflict, Denied, InvalidInput
from dnsgate.services import backends
from dnsgate.services.backends import BackendView
from dnsgate.web import deps, provider_forms
from dnsgate.web.forms import FormInvalid
from dnsgate.web.render import redirect, render


def offered(allowed: Collection[str] | None) -> list[Provider]:
    """Providers one may add here (``None``: every one but the built-in store)."""
    return [p for name, p in sorted(registry.PROVIDERS.items())
            if name != registry.BUILTIN and (allowed is None or name in allowed)]


def form_page(request: Request, *, base: str, provider: Provider, status: int = 200,
              backend: BackendView | None = None, name: str = "",
              values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
              editable: bool = True, owner: str = "") -> Response:
    """The add form (no ``backend``) or a backend's page with its edit form."""
    model = provider.config_model
    stored = backend.config if backend else None
    return render(request, "backends/form.html", status, base=base, provider=provider,
                  backend=backend, backend_name=name, editable=editable, owner=owner,
                  fields=provider_forms.config_fields(model),
                  values=values if values is not None else provider_forms.form_values(
                      model, stored),
                  kept=provider_forms.stored_secrets(stored), errors=errors or {})


def _problem(exc: InvalidInput | Conflict | Denied) -> dict[str, str]:
    if isinstance(exc, registry.InvalidConfig):
        return provider_forms.field_errors(exc.fields)
    if isinstance(exc, Conflict) or exc.message.startswith("backend names"):
        return {"name": exc.message}
    return {"": exc.message}


async def add(request: Request, who: deps.Who, *, base: str, provider: Provider,
              allowed: Collection[str] | None) -> Response:
    """Save a new backend from the posted form: the account's own (``allowed``
    given) or the platform's; 422 with errors by field, nothing saved."""
    env = deps.ui(request).env
    data = await deps.form(request)
    model = provider.config_model
    name = data.text("name")
    try:
        config = provider_forms.config_from_form(model, data)
        if allowed is None:
            view = backends.add_backend(env, deps.context(request), caller=who.caller,
                                        name=name, provider=provider.name, config=config)
        else:
            view = backends.add_own_backend(env, deps.context(request), caller=who.caller,
                                            name=name, provider=provider.name, config=config,
                                            allowed=allowed)
    except FormInvalid as invalid:
        errors = invalid.errors
    except (InvalidInput, Conflict, Denied) as exc:
        errors = _problem(exc)
    else:
        return redirect(request, f"{base}/{view.id}", done="backend_added")
    return form_page(request, base=base, provider=provider, status=422, name=name,
                     values=provider_forms.typed_values(model, data), errors=errors)


async def edit(request: Request, who: deps.Who, *, base: str, backend: BackendView,
               owner: str = "") -> Response:
    """Save a backend's edited configuration (an empty secret keeps the stored one)."""
    env = deps.ui(request).env
    data = await deps.form(request)
    provider = registry.provider(backend.provider)
    model = provider.config_model
    try:
        config = provider_forms.config_from_form(
            model, data, keep=provider_forms.stored_secrets(backend.config))
        await backends.update_backend(env, deps.context(request), caller=who.caller,
                                      name=backend.name, config=config)
    except FormInvalid as invalid:
        errors = invalid.errors
    except (InvalidInput, Conflict, Denied) as exc:
        errors = _problem(exc)
    else:
        return redirect(request, f"{base}/{backend.id}", done="backend_saved")
    return form_page(request, base=base, provider=provider, status=422, backend=backend,
                     values=provider_forms.typed_values(model, data), errors=errors,
                     owner=owner)


async def check(request: Request, who: deps.Who, *, base: str, backend: BackendView) -> Response:
    """Test the connection now; the backend's page shows the stored result."""
    await backends.check_backend(deps.ui(request).env, deps.context(request),
                                 caller=who.caller, name=backend.name)
    return redirect(request, f"{base}/{backend.id}", done="backend_checked")


async def set_status(request: Request, who: deps.Who, *, base: str, backend: BackendView,
                     status: str) -> Response:
    await backends.update_backend(deps.ui(request).env, deps.context(request),
                                  caller=who.caller, name=backend.name, status=status)
    return redirect(request, f"{base}/{backend.id}",
                    done="backend_disabled" if status == "disabled" else "backend_enabled")


def picked(request: Request, allowed: Collection[str] | None) -> Provider | None:
    """The provider named by ``?provider=`` (the form posts to the same URL), if one may add it."""
    name = request.query_params.get("provider", "")
    return next((p for p in offered(allowed) if p.name == name), None)


def picker(request: Request, *, base: str, allowed: Collection[str] | None,
           status: int = 200) -> Response:
    return render(request, "backends/pick.html", status, base=base, providers=offered(allowed),
                  chosen=request.query_params.get("provider", ""))
