"""Cleaning of what people type: names, emails, messages."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

NAME_MAX = 200
MESSAGE_MAX = 1000
REASON_MAX = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    text = unicodedata.normalize("NFC", value or "")
    text = _CONTROL.sub("", text)
    if not multiline:
        text = " ".join(text.split())
    else:
        text = text.replace("\r\n", "\n").strip()
    return text.strip()


def clean_name(value: str | None, label: str, errors: dict[str, str], field: str) -> str:
    name = clean_text(value)
    if not name:
        errors[field] = f"Enter the {label}."
    elif len(name) > NAME_MAX:
        errors[field] = f"The {label} must be at most {NAME_MAX} characters."
    return name


def clean_email(value: str | None, label: str, errors: dict[str, str], field: str) -> str:
    raw = (value or "").strip()
    if not raw:
        errors[field] = f"Enter the {label}."
        return ""
    if len(raw) > 254:
        errors[field] = f"The {label} is too long."
        return raw
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors[field] = f"Enter a valid {label}, like name@example.com."
        return raw


def clean_message(value: str | None, errors: dict[str, str], field: str = "message") -> str:
    message = clean_text(value, multiline=True)
    if len(message) > MESSAGE_MAX:
        errors[field] = f"The personal message must be at most {MESSAGE_MAX} characters."
    return message
