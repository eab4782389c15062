"""JSON bodies are bounded in size and nesting before anything parses them."""

from __future__ import annotations

import json
import time

import pytest

from giftcerts import jsonbody


@pytest.mark.parametrize("raw,levels", [
    (b"{}", 1), (b"[]", 1), (b"1", 0), (b'{"a": [1, {"b": []}]}', 4),
    (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 1),    # brackets in a string do not count
    (b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 1),    # nor after an escaped quote
    (b'["\\\\", [[]]]', 3),                                      # an escaped backslash ends before the quote
    (b"[" * 100_000, 100_000), (b'{"a":' * 1000, 1000),
])
def test_depth_counts_nesting_outside_strings(raw, levels):
    assert jsonbody.depth(raw) == levels


def test_a_body_nested_deeper_than_the_limit_is_refused_before_parsing():
    ok = b"[" * jsonbody.MAX_DEPTH + b"]" * jsonbody.MAX_DEPTH
    assert jsonbody.loads(ok, max_bytes=1 << 20) == json.loads(ok)
    deep = b"[" + ok + b"]"
    with pytest.raises(jsonbody.BodyTooDeep, match="32 levels"):
        jsonbody.loads(deep, max_bytes=1 << 20)


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 200_000 + b"]" * 200_000])
def test_deep_nesting_is_a_refusal_not_a_recursion_error(raw):
    started = time.monotonic()
    with pytest.raises(jsonbody.BodyRefused) as exc:
        jsonbody.loads(raw, max_bytes=1 << 20)
    assert exc.value.status == 400 and isinstance(exc.value, ValueError)
    assert time.monotonic() - started < 2


def test_a_body_over_the_size_limit_is_too_large():
    with pytest.raises(jsonbody.BodyTooLarge) as exc:
        jsonbody.loads(b" " * 1025, max_bytes=1024)
    assert exc.value.status == 413 and "1 KB" in exc.value.message


@pytest.mark.parametrize("raw", [b"{", b"\xff", b"nul", b'{"a": "unterminated [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['])
def test_malformed_json_is_a_refusal(raw):
    with pytest.raises(jsonbody.BodyRefused):
        jsonbody.loads(raw, max_bytes=1024)
