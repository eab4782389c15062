"""The app's colours: Radix Themes' teal on sage, with the steps that carry text darkened until
every text colour reaches WCAG 2.2 AA (4.5:1; 3:1 for large text and UI parts) on the
background it is drawn on.

Radix's own light palette (Themes 3.3) misses AA in three places the dashboard relies on:
white on a solid teal button (3.07:1) or red one (3.91:1), the soft status badges' text on
their tint (green 4.27:1, amber 4.25:1, blue 4.26:1, orange 3.99:1) and the grey of hints and
labels (3.83:1).
`OVERRIDES` replaces those steps on `:root` (light appearance only), so every component that
reads `--accent-9`, `--green-a11`, `--gray-10`... picks the darker value up; `PAIRS` lists the
foreground/background pairs the pages draw, and tests/test_theme.py computes each ratio."""

from __future__ import annotations

import reflex as rx

ACCENT = "teal"
GRAY = "sage"  # what Radix pairs with teal ("auto"), named so the palette below is the one in use

# The Radix Themes 3.3 light values of the steps the pairs below read (styles.css, sRGB).
RADIX_LIGHT = {
    "--teal-3": "#e0f8f3", "--teal-a3": "#00c69d1f", "--teal-9": "#12a594", "--teal-10": "#0d9b8a",
    "--teal-11": "#008573", "--teal-a11": "#008573",
    "--green-3": "#e6f6eb", "--green-a3": "#00a43319", "--green-11": "#218358", "--green-a11": "#00713fde",
    "--amber-3": "#fff7c2", "--amber-a3": "#ffde003d", "--amber-11": "#ab6400", "--amber-a11": "#ab6400",
    "--blue-3": "#e6f4fe", "--blue-a3": "#008ff519", "--blue-11": "#0d74ce", "--blue-a11": "#006dcbf2",
    "--red-3": "#feebec", "--red-a3": "#f3000d14", "--red-9": "#e5484d", "--red-10": "#dc3e42", "--red-11": "#ce2c31", "--red-a11": "#c40006d3",
    "--orange-3": "#ffefd6", "--orange-a3": "#ff9c0029", "--orange-11": "#cc4e00", "--orange-a11": "#cc4e00",
    "--sage-1": "#fbfdfc", "--sage-2": "#f7f9f8", "--sage-3": "#eef1f0", "--sage-a3": "#002d1e11",
    "--sage-10": "#7c8481", "--sage-a10": "#00100a83", "--sage-11": "#5f6563", "--sage-a11": "#000a07a0",
    "--white": "#ffffff",  # the page (not a Radix token)
}

# Darker steps where Radix's miss AA. A solid button's hover (step 10) stays darker than its rest
# (step 9); alpha steps become opaque colours, which read the same on white and light tints.
OVERRIDES = {
    "--teal-9": "#0d7d70", "--teal-10": "#0a7063",
    "--teal-11": "#006b5c", "--teal-a11": "#006b5c",
    "--green-11": "#1a6e48", "--green-a11": "#1a6e48",
    "--amber-11": "#925400", "--amber-a11": "#925400",
    "--blue-11": "#0061b5", "--blue-a11": "#0061b5",
    "--red-9": "#cd2b31", "--red-10": "#b3232a",
    "--red-11": "#b8000a", "--red-a11": "#b8000a",
    "--orange-11": "#a83d00", "--orange-a11": "#a83d00",
    "--sage-10": "#646c69", "--sage-a10": "#646c69",
}

PALETTE = {**RADIX_LIGHT, **OVERRIDES}

# The token Radix maps each semantic name to under this theme (accent = teal, gray = sage).
ALIASES = {
    **{f"--accent-{step}": f"--{ACCENT}-{step}" for step in ("3", "a3", "9", "10", "11", "a11")},
    **{f"--gray-{step}": f"--{GRAY}-{step}" for step in ("1", "2", "3", "a3", "10", "a10", "11", "a11")},
}

TEXT, LARGE_OR_UI = 4.5, 3.0

# (what the pages draw, foreground, background, minimum ratio). Backgrounds are composited on
# white (the page) when they are translucent; foregrounds on their background.
PAIRS: list[tuple[str, str, str, float]] = [
    ("solid button label", "--white", "--accent-9", TEXT),
    ("solid button label, hovered", "--white", "--accent-10", TEXT),
    ("solid red button label (Void certificate)", "--white", "--red-9", TEXT),
    ("solid red button label, hovered", "--white", "--red-10", TEXT),
    ("link and ghost button text", "--accent-a11", "--white", TEXT),
    ("active navigation link", "--accent-11", "--accent-3", TEXT),
    ("soft accent badge or callout", "--accent-a11", "--accent-a3", TEXT),
    *[(f"{color} status badge or callout", f"--{color}-a11", f"--{color}-a3", TEXT)
      for color in ("green", "amber", "blue", "red", "orange")],
    *[(f"{color} text on its tint", f"--{color}-11", f"--{color}-3", TEXT)
      for color in ("green", "amber", "blue", "red", "orange")],
    ("grey badge (expired)", "--gray-a11", "--gray-a3", TEXT),
    ("hint text (gray 10) on the page", "--gray-10", "--white", TEXT),
    ("hint text (gray 10) in the sidebar", "--gray-10", "--gray-2", TEXT),
    ("hint text (gray 10) on a hovered row", "--gray-10", "--gray-3", TEXT),
    ("placeholder (gray a10) in a field", "--gray-a10", "--gray-1", TEXT),
    ("secondary text (gray 11) in the sidebar", "--gray-11", "--gray-2", TEXT),
    ("solid button against the page (UI part)", "--accent-9", "--white", LARGE_OR_UI),
]


def resolve(token: str, palette: dict[str, str] = PALETTE) -> str:
    """A token's hex colour (#rrggbb or #rrggbbaa) under this theme."""
    return palette[ALIASES.get(token, token)]


def _rgba(hex_colour: str) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    if len(h) == 6:
        h += "ff"
    if len(h) != 8:
        raise ValueError(f"not a #rrggbb(aa) colour: {hex_colour}")
    r, g, b, a = (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4, 6))
    return r, g, b, a


def _over(top: tuple[float, float, float, float], under: tuple[float, float, float, float]):
    r, g, b, a = top
    return (r * a + under[0] * (1 - a), g * a + under[1] * (1 - a), b * a + under[2] * (1 - a), 1.0)


def relative_luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (channels 0..1)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str, page: str = "#ffffff") -> float:
    """WCAG contrast ratio of `foreground` drawn on `background` drawn on `page` (hex colours;
    translucent ones are composited first)."""
    bg = _over(_rgba(background), _rgba(page))
    fg = _over(_rgba(foreground), bg)
    lighter, darker = sorted((relative_luminance(fg), relative_luminance(bg)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def pair_ratio(foreground: str, background: str, palette: dict[str, str] = PALETTE) -> float:
    return contrast_ratio(resolve(foreground, palette), resolve(background, palette))


def theme() -> rx.Component:
    return rx.theme(accent_color=ACCENT, gray_color=GRAY, radius="medium")


# Radix declares its light palette on `:root, .light, .light-theme` (and again for P3 screens),
# and the theme's own element carries `light` as well, so the palette is declared afresh there.
# These two selectors are more specific than Radix's and leave a dark appearance alone.
OVERRIDE_SELECTOR = ":root:not(.dark, .dark-theme), .radix-themes:is(.light, .light-theme)"
OVERRIDE_CSS = OVERRIDE_SELECTOR + " {" + "".join(f"{k}: {v};" for k, v in OVERRIDES.items()) + "}"


def theme_style() -> rx.Component:
    """The overrides as a <style> in every page's head."""
    return rx.el.style(OVERRIDE_CSS)
