"""/widget/redeem?session=TOKEN: the redemption widget, embedded in an iframe at checkout.

Public: no staff sign-in. Its only authority is the widget session token in the URL, which
every handler resolves again on the server (core.widget); nothing the browser sends names
a workspace or an order. Invalid codes spend the code-guessing budgets of giftcerts.web.throttle
(per widget session, per client address and per network; tighter while guessing is detected),
and count towards the workspace's guessing alert (giftcerts.web.guessing), which refuses nobody.
After a change it tells the booking page with postMessage, addressed to each of the
workspace's embed origins by name (never "*").
"""

from __future__ import annotations

import json

import reflex as rx

from giftcerts import db
from giftcerts.clock import wait_phrase
from giftcerts.web import guessing, throttle
from giftcerts.core import money, widget
from giftcerts.core.tokens import hash_token
from giftcerts.core.codes import format_code, mask_code, normalize_code
from giftcerts.core.errors import DomainError, InvalidCode, RateLimited
from giftcerts.core.widget import WidgetSessionExpired
from giftcerts.ops import metrics

CODE_INPUT_ID = "gc-code"

# Formats the code as the customer types (XXXX-XXXX-XXXX, upper-case), keeping the caret in
# place. A delegated listener, installed once, so it survives re-renders of the input.
FORMAT_CODE_JS = """
(function () {
  if (window.__gcFormatCode) return;
  window.__gcFormatCode = true;
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (!el || el.id !== "%s") return;
    var raw = el.value;
    var caret = el.selectionStart === null ? raw.length : el.selectionStart;
    var clean = function (s) { return s.toUpperCase().replace(/[^0-9A-Z]/g, ""); };
    var chars = clean(raw).slice(0, 12);
    var out = chars.replace(/(.{4})(?=.)/g, "$1-");
    if (out === raw) return;
    var before = Math.min(clean(raw.slice(0, caret)).length, chars.length);
    el.value = out;
    var pos = before + Math.floor(Math.max(before - 1, 0) / 4);
    if (before > 0 && before %% 4 === 0 && before < chars.length) pos += 1;
    el.setSelectionRange(pos, pos);
  }, true);
})();
""" % CODE_INPUT_ID


def post_to_host_js(origins: list[str], payload: dict) -> str:
    """One postMessage per allowed origin, each with that exact targetOrigin."""
    return ("(function () { if (window.parent === window) return; var data = %s; %s.forEach(function (origin) "
            "{ window.parent.postMessage(data, origin); }); })();" % (json.dumps(payload), json.dumps(origins)))


class WidgetState(rx.State):
    phase: str = "loading"  # loading | ready | expired
    total: str = ""
    amount_due: str = ""
    applied_total: str = ""
    paid_in_full: bool = False
    applied: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    working: bool = False
    form_key: int = 0
    # A code handed over by the booking page (`?code=`, from the certificate's booking link or
    # QR code), shown in the field for the customer to apply; never applied by itself.
    prefill: str = ""

    def _token(self) -> str:
        return str(self.router.url.query_parameters.get("session", ""))[:200]

    def _show(self, checkout: widget.Checkout) -> None:
        order = checkout.order
        self.phase = "ready"
        self.total = money.format_money(order.total_cents, order.currency)
        self.amount_due = money.format_money(order.amount_due_cents, order.currency)
        self.applied_total = money.format_money(checkout.applied_cents, order.currency)
        self.paid_in_full = order.amount_due_cents == 0
        self.applied = [{"id": str(red.id), "code": mask_code(cert.code), "last4": cert.code[-4:],
                         "amount": money.format_money(red.amount_cents, order.currency)}
                        for red, cert in checkout.applied]

    def _expire(self) -> None:
        self.phase = "expired"
        self.total = self.amount_due = self.applied_total = self.notice = self.error = ""
        self.applied = []
        self.paid_in_full = False

    def _reload(self) -> None:
        try:
            with db.read_session() as session:
                self._show(widget.open_checkout(session, self._token()))
        except WidgetSessionExpired:
            self._expire()

    @rx.event
    def on_load(self):
        self.error = self.notice = ""
        self.working = False
        raw = str(self.router.url.query_parameters.get("code", ""))[:32]
        normalized = normalize_code(raw)
        self.prefill = format_code(normalized) if normalized else ""
        self.form_key += 1
        self._reload()
        return rx.call_script(FORMAT_CODE_JS)

    def _budgets(self, session, checkout: widget.Checkout) -> list[throttle.Scope]:
        workspace_id = checkout.workspace.id
        guarded = guessing.guarded(session, workspace_id)
        return throttle.widget_scopes(widget_session_id=hash_token(self._token()), workspace_id=workspace_id,
                                      address=self.router.session.client_ip or "unknown", guarded=guarded)

    @rx.event
    def apply(self, form: dict):
        self.error = self.notice = ""
        code = str(form.get("code", ""))[:64]
        token = self._token()
        if not code.strip():
            self.error = "Enter the code printed on your gift certificate."
            return
        self.working = True
        yield
        workspace_id = None
        try:
            with db.write_session() as session:
                checkout = widget.open_checkout(session, token, with_applied=False)
                workspace_id = checkout.workspace.id
                # spent before the code is even looked up; given back unless it is invalid
                with throttle.attempting(self._budgets(session, checkout), code):
                    checkout, cert = widget.apply_code(session, token, code, checkout=checkout)
        except WidgetSessionExpired:
            self._expire()
            return
        except RateLimited as exc:
            metrics.redemption("widget", exc.code)
            self._reload()
            self.error = (f"Too many attempts. Please try again in {wait_phrase(exc.retry_after)}, "
                          "or contact the tour operator.")
            return
        except DomainError as exc:
            metrics.redemption("widget", exc.code)
            if isinstance(exc, InvalidCode):
                guessing.widget_failed(workspace_id)
            self._reload()
            self.error = exc.message
            return
        finally:
            self.working = False
        metrics.redemption("widget", "redeemed")
        self._show(checkout)
        self.prefill = ""
        self.form_key += 1  # clear the field
        self.notice = (f"Gift certificate {mask_code(cert.code)} applied: "
                       f"{money.format_money(cert.amount_cents, cert.currency)}.")
        yield rx.call_script(post_to_host_js(widget.host_origins(checkout),
                                             widget.message_for_host(checkout, cert, action="applied")))

    @rx.event
    def remove(self, redemption_id: str):
        self.error = self.notice = ""
        token = self._token()
        try:
            with db.write_session() as session:
                checkout, cert = widget.remove_certificate(session, token, str(redemption_id)[:20])
        except WidgetSessionExpired:
            self._expire()
            return
        except DomainError as exc:
            self._reload()
            self.error = exc.message
            return
        self._show(checkout)
        self.notice = f"Gift certificate {mask_code(cert.code)} removed." + (
            " You can use it another time." if cert.status == "active" else " It has expired meanwhile.")
        return rx.call_script(post_to_host_js(widget.host_origins(checkout),
                                              widget.message_for_host(checkout, cert, action="removed")))


def _row(label, value, *, strong: bool = False, **props) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", weight="bold" if strong else "regular"),
        rx.spacer(),
        rx.text(value, size="3" if strong else "2", weight="bold" if strong else "regular", **props),
        width="100%",
        align="center",
    )


def _applied_item(item: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.icon("gift", size=16, color=rx.color("accent", 10), aria_hidden="true"),
            rx.vstack(
                rx.text("Gift certificate", size="2"),
                rx.code(item["code"], variant="ghost", size="1", color_scheme="gray"),
                spacing="0",
            ),
            rx.spacer(),
            rx.text("−", item["amount"], size="2", weight="medium", color=rx.color("green", 11)),
            rx.button("Remove", size="1", variant="ghost", color_scheme="gray", type="button",
                      aria_label="Remove gift certificate ending " + item["last4"],
                      on_click=WidgetState.remove(item["id"]), disabled=WidgetState.working),
            align="center",
            spacing="2",
            width="100%",
        ),
        style={"list_style": "none", "padding": "0.4rem 0", "border_bottom": f"1px solid {rx.color('gray', 4)}"},
    )


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label("Gift certificate code", html_for=CODE_INPUT_ID,
                        style={"font_weight": "500", "font_size": "14px"}),
            rx.hstack(
                rx.input(id=CODE_INPUT_ID, name="code", placeholder="XXXX-XXXX-XXXX", auto_complete="off",
                         default_value=WidgetState.prefill,
                         auto_capitalize="characters", spell_check=False, size="3", flex="1", min_width="0",
                         aria_describedby="gc-code-hint gc-code-error",
                         aria_invalid=rx.cond(WidgetState.error != "", "true", "false"),
                         style={"font_family": "ui-monospace, SFMono-Regular, Menlo, monospace",
                                "letter_spacing": "0.05em"}),
                rx.button(rx.cond(WidgetState.working, rx.spinner(size="2"), rx.fragment()),
                          rx.cond(WidgetState.working, "Applying…", "Apply"),
                          type="submit", size="3", disabled=WidgetState.working,
                          aria_label="Apply"),
                width="100%",
                spacing="2",
            ),
            rx.text("12 letters and digits, as printed on the certificate.", id="gc-code-hint", size="1",
                    color=rx.color("gray", 10)),
            spacing="1",
            width="100%",
        ),
        on_submit=WidgetState.apply,
        reset_on_submit=False,
        no_validate=True,
        key=WidgetState.form_key,
        width="100%",
    )


def _summary() -> rx.Component:
    s = WidgetState
    return rx.vstack(
        _row("Order total", s.total),
        rx.cond(s.applied.length() > 0,
                rx.el.ul(rx.foreach(s.applied, _applied_item), aria_label="Applied gift certificates",
                         style={"width": "100%", "margin": "0", "padding": "0"})),
        _row("Amount due", s.amount_due, strong=True, id="gc-amount-due"),
        spacing="2",
        width="100%",
    )


def _ready() -> rx.Component:
    s = WidgetState
    return rx.vstack(
        rx.cond(
            s.paid_in_full,
            rx.callout("Your booking is fully paid by gift certificate.", icon="circle-check", color_scheme="green",
                       size="1", width="100%"),
            _form(),
        ),
        rx.el.div(
            rx.cond(s.error != "", rx.callout(s.error, icon="circle-alert", color_scheme="red", size="1",
                                              width="100%")),
            id="gc-code-error", role="alert", style={"width": "100%"},
        ),
        rx.el.div(
            rx.cond(s.notice != "", rx.text(s.notice, size="2", color=rx.color("green", 11))),
            role="status", aria_live="polite", style={"width": "100%"},
        ),
        rx.separator(size="4"),
        _summary(),
        spacing="2",
        width="100%",
    )


def _expired() -> rx.Component:
    return rx.vstack(
        rx.icon("clock", size=28, color=rx.color("gray", 9), aria_hidden="true"),
        rx.text("This checkout session has expired", weight="bold", size="3", role="alert"),
        rx.text("Reload the booking page to apply a gift certificate.", size="2", color=rx.color("gray", 11),
                text_align="center"),
        align="center",
        spacing="2",
        padding="1rem 0",
        width="100%",
    )


def widget_page() -> rx.Component:
    return rx.el.main(
        rx.vstack(
            rx.hstack(rx.icon("gift", size=18, color=rx.color("accent", 9), aria_hidden="true"),
                      rx.heading("Pay with a gift certificate", size="3", as_="h1"), align="center", spacing="2"),
            rx.match(
                WidgetState.phase,
                ("ready", _ready()),
                ("expired", _expired()),
                rx.center(rx.spinner(size="2"), padding="1.5rem", width="100%", aria_label="Loading"),
            ),
            spacing="3",
            width="100%",
        ),
        style={"padding": "12px 14px", "max_width": "460px", "margin": "0 auto", "box_sizing": "border-box"},
    )
