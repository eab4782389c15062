"""The Overview's chart axes step in round numbers (1, 2 or 5 times a power of ten) from zero to
at least the largest value, and format amounts in the workspace's locale."""

from __future__ import annotations

import pytest

from giftcerts.ui.dashboard.overview import intl_locale, nice_ticks


@pytest.mark.parametrize("top,expected", [
    (18_000, [0, 5_000, 10_000, 15_000, 20_000]),  # not 0 / 4,500 / 9,000 / 18,000
    (17_250.5, [0, 5_000, 10_000, 15_000, 20_000]),
    (100, [0, 50, 100]),
    (9, [0, 5, 10]),
    (3, [0, 1, 2, 3]),
    (0.4, [0, 1]),  # never a step below one whole unit
    (0, [0, 1]),  # nothing sold: still an axis
])
def test_ticks_are_round_and_cover_the_largest_value(top, expected):
    assert nice_ticks(top) == expected


@pytest.mark.parametrize("top", [1, 7, 42, 99, 101, 333, 1_000, 4_999, 12_345, 987_654])
def test_every_step_is_one_two_or_five_times_a_power_of_ten(top):
    ticks = nice_ticks(top)
    step = ticks[1]
    assert str(step).rstrip("0") in ("1", "2", "5")
    assert ticks == [i * step for i in range(len(ticks))]
    assert ticks[-1] >= top > ticks[-2]
    assert 1 <= len(ticks) - 1 <= 8


def test_the_browser_gets_the_workspace_locale_in_its_own_spelling():
    assert intl_locale("de_DE") == "de-DE"
    assert intl_locale("") == "en-US"
