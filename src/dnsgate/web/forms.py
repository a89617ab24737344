"""Form bodies, parsed by hand (``application/x-www-form-urlencoded`` only), and
the field errors a form is re-rendered with."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from dnsgate.security.text import scrub

MAX_FIELDS = 200


@dataclass(slots=True)
class Form:
    """What the browser sent, exactly as typed (for re-rendering)."""

    items: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, body: bytes, content_type: str) -> Form:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return cls()
        text = body.decode("utf-8", errors="replace")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:  # too many fields: no form at all (so no CSRF token either)
            return cls()
        # %00 (and bytes that are not UTF-8) become U+FFFD: no NUL reaches a database
        return cls([(scrub(key), scrub(value)) for key, value in pairs])

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.items:
            if key == name:
                return value
        return default

    def text(self, name: str) -> str:
        return self.get(name).strip()

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]

    def lines(self, name: str) -> list[str]:
        """A textarea of one item a line (commas work too), blanks dropped."""
        raw = self.get(name).replace(",", "\n")
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def as_dict(self) -> dict[str, str | list[str]]:
        """For templates: single values as text, repeated ones as lists."""
        out: dict[str, str | list[str]] = {}
        for key, value in self.items:
            if key in out:
                current = out[key]
                out[key] = [*current, value] if isinstance(current, list) else [current, value]
            else:
                out[key] = value
        return out


class FormInvalid(Exception):
    """A form to show again: errors by field name (``""`` for the whole form)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors
