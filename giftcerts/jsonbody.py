"""JSON request bodies bounded before they are parsed.

`json.loads` recurses once per level of nesting, so a body of 100,000 `[` raises RecursionError
(a 500) rather than a parsing error; other parsers have limits of their own that differ. Every
JSON endpoint (the API, the Stripe webhook) checks size and depth here first, and answers a
body beyond either as the client's mistake. The depth scan is a loop, not a recursion.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32

# A JSON string (escapes included); unrolled so that matching stays linear.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class BodyRefused(ValueError):
    """The body is not something we parse; `message` says why, for the client."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BodyTooLarge(BodyRefused):
    status = 413


class BodyTooDeep(BodyRefused):
    pass


def depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in `raw` (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def check(raw: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> None:
    """Raise BodyTooLarge or BodyTooDeep unless `raw` is within both bounds."""
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"The request body must be at most {max_bytes // 1024} KB.")
    # fewer brackets than the limit (the usual body) cannot nest deeper: no scan
    if raw.count(b"[") + raw.count(b"{") > max_depth and depth(raw) > max_depth:
        raise BodyTooDeep(f"The request body nests arrays and objects more than {max_depth} levels deep.")


def loads(raw: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` of a body within the bounds; BodyRefused (a ValueError) for anything else."""
    check(raw, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BodyRefused("The request body is not valid JSON.") from exc
