"""/demo/checkout: a stand-in booking site's checkout page for the demo workspace.

It does what a real booking platform does: its server opens an order and a widget session
through the JSON API (with an API key it creates for itself once and keeps only in server
memory), embeds the redemption widget in an iframe, and listens for the widget's
postMessage to update the amount due, which it re-reads from the server. "Pay" reads the
order back through the API (what is still due) and completes it from the server, never on
the browser's word; a customer who leaves instead leaves a hold that the worker releases
after the workspace's hold time.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import timedelta

import httpx
import reflex as rx

from giftcerts import config, db, ratelimit
from giftcerts.clock import to_local, utcnow
from giftcerts.core import apikeys, money, redemption, workspaces
from giftcerts.demo import DEMO_SLUG
from giftcerts.models import Order

TOUR = "Glacier hike & fjord cruise"
TOUR_DETAILS = "Full day · 2 adults · pick-up from the harbour"
TOTAL_CENTS = 48000
CUSTOMER_EMAIL = "guest@example.com"
API_KEY_NAME = "Demo checkout page"
REFRESH_BUTTON_ID = "demo-refresh"


class DemoUnavailable(Exception):
    """Why the demo cannot open a checkout, in words for the page."""


# The demo page's own API key: created on first use, kept only in this process's memory.
_api_key: dict[str, str] = {}
_api_key_lock = asyncio.Lock()


def _create_key() -> str:
    with db.write_session() as session:
        ws = workspaces.find_workspace(session, DEMO_SLUG)
        if ws is None:
            raise DemoUnavailable("The demo workspace is not set up. Run `giftcerts seed-demo`, then reload this page.")
        _, plaintext = apikeys.create_api_key(session, ws, name=API_KEY_NAME)
    return plaintext


async def _key(*, stale: str | None = None) -> str:
    async with _api_key_lock:
        if _api_key.get("key") in (None, stale):  # none yet, or the one just refused (revoked in the dashboard)
            _api_key["key"] = await asyncio.to_thread(_create_key)
        return _api_key["key"]


async def _post(client: httpx.AsyncClient, path: str, body: dict, *, idempotency_key: str) -> dict:
    key = await _key()
    response = await client.post(path, json=body, headers={"Authorization": f"Bearer {key}",
                                                             "Idempotency-Key": idempotency_key})
    if response.status_code == 401:
        key = await _key(stale=key)
        response = await client.post(path, json=body, headers={"Authorization": f"Bearer {key}",
                                                                 "Idempotency-Key": idempotency_key})
    if response.status_code >= 400:
        raise DemoUnavailable(f"The API refused to open the demo checkout ({path}: HTTP {response.status_code}). "
                              "Reload the page to try again.")
    return response.json()


async def _get(client: httpx.AsyncClient, path: str) -> dict:
    key = await _key()
    response = await client.get(path, headers={"Authorization": f"Bearer {key}"})
    if response.status_code == 401:
        key = await _key(stale=key)
        response = await client.get(path, headers={"Authorization": f"Bearer {key}"})
    if response.status_code >= 400:
        raise DemoUnavailable(f"The API could not read the order ({path}: HTTP {response.status_code}).")
    return response.json()


async def pay_and_complete(order_id: int) -> dict:
    """The booking is paid: read the order back (what is still due, the certificates on it) and
    complete it, as a booking platform's server does once the card payment for the rest went
    through (this demo takes no card). Returns the completed order."""
    try:
        async with httpx.AsyncClient(base_url=config.public_url(), timeout=15) as client:
            order = await _get(client, f"/api/v1/orders/{order_id}")
            if order["status"] != "open":
                raise DemoUnavailable(f"This booking is already {order['status']}.")
            return await _post(client, f"/api/v1/orders/{order_id}/complete", {},
                               idempotency_key=f"demo-complete-{order['reference']}")
    except httpx.HTTPError:
        raise DemoUnavailable(f"The API at {config.public_url()} could not be reached. Try again.") from None


async def open_checkout() -> tuple[int, str]:
    """Open an order and a widget session through the JSON API, as a booking platform's server would.
    Returns the order id and the widget's URL (for the iframe)."""
    if not config.demo_checkout_enabled():
        raise DemoUnavailable("The demo checkout is turned off on this server.")
    reference = f"DEMO-{secrets.token_hex(4).upper()}"
    try:
        async with httpx.AsyncClient(base_url=config.public_url(), timeout=15) as client:
            order = await _post(client, "/api/v1/orders", {"reference": reference, "total_cents": TOTAL_CENTS,
                                                             "customer_email": CUSTOMER_EMAIL},
                                idempotency_key=f"demo-order-{reference}")
            grant = await _post(client, "/api/v1/widget-sessions", {"order_id": order["id"]},
                                idempotency_key=f"demo-widget-{reference}")
    except httpx.HTTPError:
        raise DemoUnavailable(f"The API at {config.public_url()} could not be reached. "
                              "Reload the page to try again.") from None
    return int(order["id"]), str(grant["url"])


def listener_js() -> str:
    """Update the amount due when the widget (and only the widget) reports a change."""
    origin = config.public_url()
    return """
(function () {
  if (window.__gcDemoListener) return;
  window.__gcDemoListener = true;
  var widgetOrigin = %s;
  window.addEventListener("message", function (event) {
    if (event.origin !== widgetOrigin) return;
    var frame = document.querySelector("iframe[title='Gift certificate']");
    if (!frame || event.source !== frame.contentWindow) return;
    if (!event.data || event.data.type !== "giftcerts:redeemed") return;
    var button = document.getElementById(%s);
    if (button) button.click();
  });
})();
""" % (json.dumps(origin), json.dumps(REFRESH_BUTTON_ID))


class DemoCheckoutState(rx.State):
    phase: str = "loading"  # loading | ready | paid | unavailable
    problem: str = ""
    operator: str = ""
    reference: str = ""
    tour_date: str = ""
    total: str = ""
    applied: str = ""
    has_applied: bool = False
    amount_due: str = ""
    widget_src: str = ""
    _order_id: int = 0  # server-side only: the browser cannot point this page at another order

    def _show(self, order: Order) -> None:
        self.reference = order.reference
        self.total = money.format_money(order.total_cents, order.currency)
        self.applied = money.format_money(order.total_cents - order.amount_due_cents, order.currency)
        self.has_applied = order.amount_due_cents < order.total_cents
        self.amount_due = money.format_money(order.amount_due_cents, order.currency)

    @rx.event
    async def on_load(self):
        self.phase, self.problem, self.widget_src, self._order_id = "loading", "", "", 0
        wait = ratelimit.hit(ratelimit.DEMO_CHECKOUTS_PER_ADDRESS, "demo-checkout",
                             self.router.session.client_ip or "unknown")
        if wait is not None:
            self.phase = "unavailable"
            self.problem = "Too many demo checkouts from your network. Try again in a few minutes."
            return
        try:
            order_id, widget_url = await open_checkout()
        except DemoUnavailable as exc:
            self.phase, self.problem = "unavailable", str(exc)
            return
        with db.read_session() as session:
            ws = workspaces.find_workspace(session, DEMO_SLUG)
            order = redemption.get_order(session, workspace_id=ws.id, order_id=order_id)
        self._order_id = order.id
        self.operator = ws.name
        self.tour_date = to_local(utcnow() + timedelta(days=30), ws.timezone).strftime("%A %-d %B %Y")
        self._show(order)
        # the certificate's booking link and QR code (?gift_certificate=CODE) fill the widget's field
        handed = str(self.router.url.query_parameters.get("gift_certificate", ""))[:32]
        handed = "".join(ch for ch in handed if ch.isascii() and (ch.isalnum() or ch == "-"))[:20]
        self.widget_src = widget_url + (f"&code={handed}" if handed else "")
        self.phase = "ready"
        return rx.call_script(listener_js())

    @rx.event
    async def pay(self):
        """Pay the rest (nothing is charged in the demo) and confirm the booking from the server."""
        if not self._order_id or self.phase != "ready":
            return
        try:
            order = await pay_and_complete(self._order_id)
        except DemoUnavailable as exc:
            return rx.toast.error(str(exc))
        self.amount_due = money.format_money(order["amount_due_cents"], order["currency"])
        self.phase = "paid"

    @rx.event
    def refresh(self):
        """The widget reported a change: read the order again (never trust the message itself)."""
        if not self._order_id:
            return
        with db.read_session() as session:
            ws = workspaces.find_workspace(session, DEMO_SLUG)
            if ws is None:
                return
            self._show(redemption.get_order(session, workspace_id=ws.id, order_id=self._order_id))


def _line(label: str, value, **props) -> rx.Component:
    return rx.hstack(rx.text(label, size="2", color=rx.color("gray", 11)), rx.spacer(),
                     rx.text(value, size="2", **props), width="100%")


def _term(label: str, value, *, style: dict | None = None, term_style: dict | None = None,
          **props) -> rx.Component:
    """One row of a definition list: a <div> holding its <dt> and <dd>, side by side."""
    return rx.el.div(
        rx.el.dt(label, style={"font_size": "14px", "color": rx.color("gray", 11), **(term_style or {})}),
        rx.el.dd(value, style={"margin": "0", "font_size": "14px", **(style or {})}, **props),
        style={"display": "flex", "justify_content": "space-between", "align_items": "center", "width": "100%"},
    )


def _booking() -> rx.Component:
    s = DemoCheckoutState
    return rx.card(
        rx.vstack(
            rx.text("Your booking", size="1", weight="bold", color=rx.color("gray", 10),
                    style={"text_transform": "uppercase", "letter_spacing": "0.06em"}),
            rx.heading(TOUR, size="5", as_="h2"),
            rx.text(TOUR_DETAILS, size="2", color=rx.color("gray", 11)),
            rx.separator(size="4"),
            _line("Date", s.tour_date),
            _line("Booking reference", s.reference),
            _line("Total", s.total),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _payment() -> rx.Component:
    s = DemoCheckoutState
    return rx.card(
        rx.vstack(
            rx.heading("Payment", size="4", as_="h2"),
            rx.el.iframe(src=s.widget_src, title="Gift certificate",
                         style={"width": "100%", "height": "400px", "border": f"1px solid {rx.color('gray', 5)}",
                                "border_radius": "8px", "background": "white"}),
            rx.el.dl(
                _term("Total", s.total),
                rx.cond(s.has_applied, _term("Gift certificates", "−" + s.applied,
                                             style={"color": rx.color("green", 11)})),
                _term("Amount due", s.amount_due, id="amount-due", aria_live="polite",
                      style={"font_weight": "700", "font_size": "1.25rem"},
                      term_style={"font_weight": "600", "color": "inherit"}),
                style={"width": "100%", "margin": "0", "display": "flex", "flex_direction": "column",
                       "gap": "0.5rem"},
            ),
            rx.button("Pay ", s.amount_due, size="3", width="100%", on_click=DemoCheckoutState.pay,
                      loading=False),
            rx.text("Demo only: no card payment is taken; paying confirms the booking.", size="1",
                    color=rx.color("gray", 10)),
            rx.el.button("Refresh amount due", id=REFRESH_BUTTON_ID, type="button", tab_index=-1,
                         aria_hidden="true", on_click=DemoCheckoutState.refresh, style={"display": "none"}),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def demo_checkout_page() -> rx.Component:
    s = DemoCheckoutState
    return rx.box(
        rx.el.header(rx.hstack(
            rx.icon("mountain-snow", size=22, color=rx.color("accent", 9), aria_hidden="true"),
            rx.text(rx.cond(s.operator != "", s.operator, "Demo Adventures"), weight="bold", size="4"),
            rx.spacer(),
            rx.badge("Demo booking site", variant="soft", color_scheme="gray"),
            align="center",
            padding="1rem 1.5rem",
            border_bottom=f"1px solid {rx.color('gray', 5)}",
            width="100%",
        )),
        rx.el.main(
            rx.vstack(
                rx.heading("Checkout", size="7", as_="h1"),
                rx.match(
                    s.phase,
                    ("ready", rx.grid(_booking(), _payment(), columns=rx.breakpoints(initial="1", md="2"),
                                      spacing="5", width="100%", align_items="start")),
                    ("paid", rx.card(rx.vstack(
                        rx.hstack(rx.icon("circle-check", size=24, color=rx.color("green", 11), aria_hidden="true"),
                                  rx.heading("Booking confirmed", size="5", as_="h2"), align="center"),
                        rx.text("Booking ", s.reference, " is paid. Gift certificates applied to it are now used "
                                "for good.", size="2"),
                        _line("Paid by gift certificate", s.applied),
                        role="status", spacing="3", width="100%"), width="100%")),
                    ("unavailable", rx.callout(s.problem, icon="triangle-alert", color_scheme="amber",
                                               width="100%")),
                    rx.center(rx.spinner(size="3"), padding="3rem", width="100%", aria_label="Loading"),
                ),
                spacing="5",
                width="100%",
            ),
            style={"padding": "2rem 1.5rem", "max_width": "960px", "margin": "0 auto"},
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
