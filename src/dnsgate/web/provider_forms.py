"""Forms generated from a provider's configuration model: one generator for every page.

Each field of the pydantic model becomes one labelled control: text, number,
checkbox (bool), select (Literal / Enum), password (``SecretStr``: never
pre-filled; empty on an edit keeps the stored secret), a one-per-line textarea
(lists) or a ``key=value`` textarea (mappings, whose secret values show as the
mask). Controls are named ``cfg_<field>`` so they never clash with the page's
own fields; the model's errors come back under the same names.
"""

from __future__ import annotations

import enum
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from dnsgate.backends.base import ProviderConfig
from dnsgate.services.backends import MASK
from dnsgate.web.forms import Form, FormInvalid

PREFIX = "cfg_"
_WORDS = {"api": "API", "url": "URL", "id": "ID", "ids": "IDs", "tsig": "TSIG"}


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One control of a generated form."""

    name: str
    control: str  # text | number | checkbox | select | password | lines | pairs
    label: str
    help: str
    required: bool
    choices: tuple[str, ...] = ()

    @property
    def input_name(self) -> str:
        return PREFIX + self.name


def _bare(annotation: Any) -> Any:
    """``X | None`` as ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _control(annotation: Any) -> tuple[str, tuple[str, ...]]:
    bare = _bare(annotation)
    origin = get_origin(bare)
    if bare is SecretStr:
        return "password", ()
    if bare is bool:
        return "checkbox", ()
    if bare in (int, float):
        return "number", ()
    if origin is Literal:
        return "select", tuple(str(a) for a in get_args(bare))
    if isinstance(bare, type) and issubclass(bare, enum.Enum):
        return "select", tuple(str(m.value) for m in bare)
    if origin in (list, tuple, set, frozenset):
        return "lines", ()
    if origin is dict:
        return "pairs", ()
    return "text", ()


def _label(name: str) -> str:
    words = [_WORDS.get(w, w) for w in name.split("_")]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def _help(info: FieldInfo, control: str) -> str:
    parts = [info.description] if info.description else []
    if control == "lines":
        parts.append("One per line.")
    elif control == "pairs":
        parts.append("One key=value per line; a value shown as ********** is a stored "
                     "secret, kept as long as it stays so.")
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    if default not in (None, "", (), [], {}) and control not in ("password", "checkbox"):
        parts.append(f"Default: {default}.")
    return " ".join(parts)


def config_fields(model: type[ProviderConfig]) -> list[ConfigField]:
    """The controls of a provider's form, required fields first."""
    out = []
    for name, info in model.model_fields.items():
        control, choices = _control(info.annotation)
        out.append(ConfigField(name=name, control=control, label=_label(name),
                               help=_help(info, control), required=info.is_required(),
                               choices=choices))
    return sorted(out, key=lambda f: not f.required)


def _shown(value: Any, control: str) -> str:
    if value is None or control == "password":
        return ""
    if control == "checkbox":
        return "on" if value else ""
    if control == "lines":
        return "\n".join(str(v) for v in value)
    if control == "pairs":
        return "\n".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def form_values(model: type[ProviderConfig], config: dict[str, Any] | None) -> dict[str, str]:
    """What the controls show: a stored (masked) configuration, or the defaults.
    Secrets are never shown; the mask inside a mapping is (it is no secret)."""
    values: dict[str, str] = {}
    for field in config_fields(model):
        info = model.model_fields[field.name]
        if config is not None:
            value = config.get(field.name)
        else:
            value = None if info.is_required() else info.get_default(call_default_factory=True)
        values[field.input_name] = _shown(value, field.control)
    return values


def stored_secrets(config: dict[str, Any] | None) -> frozenset[str]:
    """Fields whose secret is stored (an edit may keep it by leaving the control empty)."""
    return frozenset(k for k, v in (config or {}).items() if v == MASK)


def typed_values(model: type[ProviderConfig], form: Form) -> dict[str, str]:
    """What the person typed, to show again after an error (never a secret)."""
    return {f.input_name: "" if f.control == "password" else form.get(f.input_name)
            for f in config_fields(model)}


def config_from_form(model: type[ProviderConfig], form: Form, *,
                     keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The configuration a form describes, for the services to validate.

    Every field is given (an edit replaces the whole configuration): an empty
    control means the default, or -- for a secret in ``keep`` -- the stored
    secret (sent as the mask, which the services replace by it). Empty required
    controls are refused here: on an edit the services would keep the old value."""
    config: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in config_fields(model):
        info = model.model_fields[field.name]
        raw = form.get(field.input_name)
        if field.control == "checkbox":
            config[field.name] = raw != ""
            continue
        text = raw if field.control in ("lines", "pairs") else raw.strip()
        if field.control == "lines":
            value: Any = [line.strip() for line in text.splitlines() if line.strip()]
        elif field.control == "pairs":
            value = {}
            for line in (x.strip() for x in text.splitlines()):
                if not line:
                    continue
                key, sep, item = line.partition("=")
                if not sep or not key.strip():
                    errors[field.input_name] = "Write each line as key=value."
                    break
                value[key.strip()] = item.strip()
        else:
            value = text
        if value in ("", [], {}):
            if field.control == "password" and field.name in keep:
                config[field.name] = MASK
            elif not info.is_required():
                config[field.name] = info.get_default(call_default_factory=True)
            else:
                errors.setdefault(field.input_name, "Required.")
            continue
        config[field.name] = value
    if errors:
        raise FormInvalid(errors)
    return config


def field_errors(fields: dict[str, str]) -> dict[str, str]:
    """A model's errors by field as form errors by control (``""``: the whole form)."""
    out: dict[str, str] = {}
    for name, message in fields.items():
        text = message.removeprefix("Value error, ")
        if text == "Field required":
            text = "Required."
        out[PREFIX + name if name else ""] = text
    return out
