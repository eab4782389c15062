"""Redemption codes: 12 symbols of Crockford's base32 (60 random bits from `secrets`).

Shown as XXXX-XXXX-XXXX. Input is forgiving: case, spaces and dashes do not matter,
and the look-alikes O, I and L read as 0, 1 and 1. U is not in the alphabet.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.]+")
_VALID = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


def generate_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str | None) -> str | None:
    """The canonical code for what a person typed, or None if it cannot be a code."""
    if not raw or len(raw) > 64:
        return None
    candidate = _SEPARATORS.sub("", raw).upper().translate(_LOOKALIKES)
    return candidate if _VALID.match(candidate) else None


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def mask_code(code: str) -> str:
    """Hide all but the last four symbols, for lists, logs and staff emails."""
    return "••••-••••-" + code[-4:]
