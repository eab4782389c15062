"""The theme's colours meet WCAG 2.2 AA: every text colour at least 4.5:1 on the background the
pages draw it on (3:1 for large text and UI parts), computed with WCAG's formula."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from giftcerts.ui import theme
from giftcerts.ui.head import head_components

RADIX_CSS = Path(__file__).resolve().parent.parent / ".web/node_modules/@radix-ui/themes/styles.css"


def test_the_formula_gives_wcags_reference_ratios():
    assert theme.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert theme.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    # #777777 on white is the well-known just-below-AA grey; #767676 the just-above one.
    assert theme.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert theme.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    # order does not matter; a translucent colour is composited on what is under it
    assert theme.contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert theme.contrast_ratio("#00000080", "#ffffff") == pytest.approx(
        theme.contrast_ratio("#7f7f7f", "#ffffff"), abs=0.01)


def test_radixs_own_palette_misses_aa_where_the_audit_found_it():
    """Given Radix's light palette alone, the ratios axe-core reported."""
    radix = theme.RADIX_LIGHT
    assert theme.pair_ratio("--white", "--accent-9", radix) == pytest.approx(3.07, abs=0.01)
    assert theme.pair_ratio("--green-a11", "--green-a3", radix) == pytest.approx(4.28, abs=0.02)
    assert theme.pair_ratio("--gray-a10", "--white", radix) == pytest.approx(3.83, abs=0.01)


@pytest.mark.parametrize("what,foreground,background,minimum", theme.PAIRS, ids=[p[0] for p in theme.PAIRS])
def test_every_colour_pair_of_the_theme_meets_aa(what, foreground, background, minimum):
    ratio = theme.pair_ratio(foreground, background)
    assert ratio >= minimum, f"{what}: {theme.resolve(foreground)} on {theme.resolve(background)} is {ratio:.2f}:1"


def test_the_overrides_reach_every_page_and_win_over_radixs_light_palette():
    css = theme.OVERRIDE_CSS
    for token, value in theme.OVERRIDES.items():
        assert f"{token}: {value};" in css
    # more specific than Radix's `:root, .light, .light-theme`, and not applied in dark mode
    assert css.startswith(":root:not(.dark, .dark-theme), .radix-themes:is(.light, .light-theme) {")
    rendered = [str(c) for c in head_components()]
    assert any(theme.OVERRIDE_CSS in c for c in rendered)


def test_the_app_theme_is_the_palette_the_pairs_were_computed_for():
    props = str(theme.theme())
    assert '"teal"' in props and '"sage"' in props


@pytest.mark.skipif(not RADIX_CSS.exists(), reason="the app has not been built here (.web)")
def test_the_recorded_radix_values_are_the_installed_ones():
    light = RADIX_CSS.read_text(encoding="utf-8").split("@supports", 1)[0]
    for token, value in theme.RADIX_LIGHT.items():
        if token == "--white":
            continue
        found = re.search(re.escape(token) + r":\s*(#[0-9a-f]+);", light)
        assert found and found.group(1) == value, token
