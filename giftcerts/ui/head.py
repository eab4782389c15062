"""What every page's <head> carries before the app's scripts run."""

from __future__ import annotations

import reflex as rx

from giftcerts.ui.theme import theme_style

# A page framed by another site (the redemption widget on a booking site) may be refused
# localStorage and sessionStorage outright: Chromium throws SecurityError on the first read when
# third-party cookies are blocked, as in every incognito window. Reflex keeps its client token in
# sessionStorage and its colour mode in localStorage, so the widget would not even render. Where
# a store is refused, this puts an in-memory one with the same methods in its place; the page
# then simply forgets everything when it is reloaded, which the widget never needs.
STORAGE_FALLBACK = """
(function () {
  for (const name of ["localStorage", "sessionStorage"]) {
    try { window[name].getItem("giftcerts-probe"); continue; } catch (refused) {}
    const data = new Map();
    const store = {
      getItem: (key) => (data.has(String(key)) ? data.get(String(key)) : null),
      setItem: (key, value) => { data.set(String(key), String(value)); },
      removeItem: (key) => { data.delete(String(key)); },
      clear: () => { data.clear(); },
      key: (index) => (Array.from(data.keys())[index] ?? null),
      get length() { return data.size; },
    };
    Object.defineProperty(window, name, {value: store, configurable: true});
  }
})();
"""


def head_components() -> list[rx.Component]:
    return [rx.el.script(STORAGE_FALLBACK),
            rx.el.meta(name="referrer", content="same-origin"),
            rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
            theme_style()]
