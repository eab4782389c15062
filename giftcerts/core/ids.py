"""Ids and cursors that arrive as text (URLs, forms, JSON): parsed once, safely.

Every id column is a 32-bit INTEGER on PostgreSQL, so anything outside 1..2^31-1 is
simply "not found" here instead of an "integer out of range" error in the database."""

from __future__ import annotations

MAX_ID = 2**31 - 1


def parse_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None
