"""What a new password must be: hard to guess, judged by zxcvbn, not by
character classes (which push people to ``Password1!``).

zxcvbn estimates the guesses an attacker with dictionaries, common
passwords, keyboard patterns, dates and l33t substitutions would need; a
score of at least 3 ("safely unguessable") is required. The person's own
name and e-mail address are in its dictionary, so ``alice2024!`` does not
pass for alice. Its feedback text becomes the field error.
"""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

from dnsgate.domain.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_SCORE = 3
#: zxcvbn's own limit (its matching is quadratic); a longer password is judged
#: by its first characters, which must then already be strong.
JUDGED_LENGTH = 72


def problem(password: str, *, user_inputs: Iterable[str | None] = ()) -> str | None:
    """Why this password is refused, in words for the person; None: it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    inputs = [part for value in user_inputs if value for part in _parts(value)]
    result = zxcvbn(password[:JUDGED_LENGTH], user_inputs=inputs, max_length=JUDGED_LENGTH)
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    words = [feedback.get("warning") or "This password is too easy to guess."]
    words.extend(feedback.get("suggestions") or ["Add another word or two."])
    return " ".join(words)


def check(password: str, *, user_inputs: Iterable[str | None] = ()) -> None:
    """Raise InvalidInput (field ``password``) with the reason when refused."""
    reason = problem(password, user_inputs=user_inputs)
    if reason is not None:
        raise InvalidInput(reason, code="weak_password")


def _parts(value: str) -> list[str]:
    """A name or address and its pieces (``alice.smith@example.org`` -> alice, smith...)."""
    lowered = value.lower()
    pieces = [lowered, *lowered.replace("@", " ").replace(".", " ").replace("-", " ")
              .replace("_", " ").split()]
    return [p for p in dict.fromkeys(pieces) if len(p) >= 3]
