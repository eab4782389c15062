"""/portal/[workspace]: the public purchase portal (its confirmation page is `confirmation`).

Public: no sign-in. The browser chooses and types; the server decides. Every handler works
from the workspace in the URL and re-validates what it is sent (giftcerts.core.purchases):
the amount and currency charged come from the server, restricted types are checked against
the purchaser's email and market at payment time, and the portal being switched off refuses
even a hand-made request. The card never reaches this server: Stripe.js turns it into a token
in the browser (giftcerts.payments.checkout does the rest). Backend-only vars (`_...`) hold
the checkout in progress; nothing secret is sent to the browser.
"""

from __future__ import annotations

import reflex as rx

from giftcerts import db, ratelimit
from giftcerts.clock import wait_phrase
from giftcerts.core import certificate_types, money, purchases, segments
from giftcerts.core.errors import DomainError, NotFound, ValidationError
from giftcerts.core.segments import Visitor
from giftcerts.core.validation import MESSAGE_MAX
from giftcerts.payments import checkout, gateway
from giftcerts.ui.portal.shell import message_page, shell
from giftcerts.ui.portal.stripe_js import CARD_ELEMENT_ID, TOKENIZE_JS, authenticate_js, mount_card_js
from giftcerts.web import routes


# The portal's labels, for the error summary's links and for messages worded like them.
FIELD_LABELS = {"certificate_type": "Gift certificate", "amount": "Amount", "purchaser_name": "Your name",
                "purchaser_email": "Your email", "recipient_name": "Recipient name",
                "recipient_email": "Recipient email", "message": "Personal message"}
FIELD_IDS = {"certificate_type": "portal-types"}  # the rest are portal-<field>
ERROR_SUMMARY_ID = "portal-error-summary"

# core words its messages for staff ("the purchaser name"); a customer is the purchaser, and the
# fields they see are "Your name" and "Your email".
_CUSTOMER_WORDING = [
    ("Enter a valid purchaser email, like", "Your email must be a valid address, like"),
    ("Enter the purchaser name.", "Enter your name."), ("Enter the purchaser email.", "Enter your email."),
    ("The purchaser name", "Your name"), ("The purchaser email", "Your email"),
    ("the purchaser name", "your name"), ("the purchaser email", "your email"),
]


def customer_wording(message: str) -> str:
    for staff, customer in _CUSTOMER_WORDING:
        message = message.replace(staff, customer)
    return message


def field_errors(errors: dict[str, str]) -> dict[str, str]:
    """A ValidationError's messages as the portal shows them, in the form's order."""
    order = list(FIELD_LABELS)
    ranked = sorted(errors.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return {field: customer_wording(str(text)) for field, text in ranked}


def _amount_label(cents: int, currency: str) -> str:
    text = money.format_money(cents, currency)
    return text[:-3] if text.endswith(".00") else text


class PortalState(rx.State):
    phase: str = "loading"  # loading | ready | not_found | disabled
    shop_name: str = ""
    currency: str = ""
    number_format: str = money.DEFAULT_LOCALE  # the shop's: how the amount is typed
    payments_ready: bool = False
    types: list[dict[str, str]] = []
    has_types: bool = False
    selected_type: str = ""
    type_notice: str = ""
    presets: list[dict[str, str]] = []
    bounds_text: str = ""
    amount: str = ""
    amount_error: str = ""
    purchaser_email: str = ""
    message: str = ""
    market: str = ""
    markets: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    pay_error: str = ""
    working: bool = False

    # The checkout in progress: server-side only.
    _order: dict = {}
    _certificate_id: int = 0
    _payment_intent_id: str = ""
    _confirmation_token: str = ""

    def _slug(self) -> str:
        return str(self.router.page.params.get("workspace", ""))[:63].lower()

    # --- what the visitor sees --------------------------------------------------------------

    def _offer(self, session, ws) -> None:
        """Show what core decides this visitor is offered (by purchaser email and market)."""
        offer = certificate_types.offer(session, ws, Visitor(email=self.purchaser_email, market=self.market),
                                        type_id=self.selected_type, amount=self.amount)
        self.has_types = offer.sells_types
        self.types = [{
            "id": str(t.ctype.id), "name": t.ctype.name, "description": t.ctype.description,
            "accent": t.ctype.accent_color or "var(--accent-9)", "image": t.ctype.image_url,
            "from": _amount_label(t.from_cents, ws.currency),
        } for t in offer.types]
        if offer.withdrawn:
            self.type_notice = "The certificate you chose is not available for this email address or market."
        self.selected_type = str(offer.chosen.id) if offer.chosen else ""
        self.presets = [{"value": money.format_plain(v, ws.currency, locale=ws.locale),
                         "label": _amount_label(v, ws.currency)} for v in offer.presets]
        self.bounds_text = (f"Any amount from {money.format_money(offer.low, ws.currency)} to "
                            f"{money.format_money(offer.high, ws.currency)}")
        self.amount_error = offer.amount_error

    def _refresh_offer(self) -> None:
        with db.read_session() as session:
            try:
                ws = purchases.portal_workspace(session, self._slug())
            except NotFound:
                self.phase = "not_found"
                return
            self._offer(session, ws)

    @rx.var
    def summary(self) -> str:
        if self.phase != "ready" or not self.amount.strip() or self.amount_error:
            return ""
        try:
            cents = money.parse_amount(self.amount, self.currency, locale=self.number_format)
        except ValidationError:
            return ""
        return f"{money.format_money(cents, self.currency)} {self.currency}"

    @rx.var
    def pay_label(self) -> str:
        """"Pay $100.00" once a valid amount is chosen; "Pay" until then."""
        if self.phase != "ready" or not self.amount.strip() or self.amount_error:
            return "Pay"
        try:
            cents = money.parse_amount(self.amount, self.currency, locale=self.number_format)
        except ValidationError:
            return "Pay"
        return f"Pay {money.format_money(cents, self.currency)}"

    @rx.var
    def error_list(self) -> list[dict[str, str]]:
        """The error summary's entries: each invalid field's label, message and input id."""
        return [{"field": field, "label": FIELD_LABELS.get(field, field.replace("_", " ").capitalize()),
                 "message": text, "target": FIELD_IDS.get(field, f"portal-{field}")}
                for field, text in self.errors.items()]

    @rx.var
    def message_count(self) -> str:
        return f"{len(self.message)} / {MESSAGE_MAX}"

    @rx.event
    def on_load(self):
        self.phase = "loading"
        self.errors, self.pay_error, self.type_notice, self.working = {}, "", "", False
        self.amount = self.message = self.purchaser_email = self.selected_type = ""
        self._order, self._certificate_id, self._payment_intent_id, self._confirmation_token = {}, 0, "", ""
        self.market = segments.normalize_market(str(self.router.url.query_parameters.get("market", ""))[:20])
        with db.read_session() as session:
            try:
                ws = purchases.portal_workspace(session, self._slug())
            except NotFound:
                self.phase = "not_found"
                return
            self.shop_name = ws.name
            if not ws.portal_enabled:
                self.phase = "disabled"
                return
            self.currency, self.number_format = ws.currency, ws.locale
            self.markets = [{"code": m.market_code, "name": m.name} for m in segments.markets(session, ws.id)]
            if self.market and self.market not in {m["code"] for m in self.markets}:
                self.market = ""
            self._offer(session, ws)
        conf = gateway.settings()
        self.payments_ready = conf.enabled
        self.phase = "ready"
        if conf.enabled:
            return rx.call_script(mount_card_js(conf.js_url, conf.publishable_key))

    @rx.event
    def choose_type(self, type_id: str):
        self.selected_type = str(type_id)[:12]
        self.type_notice = ""
        self._refresh_offer()

    @rx.event
    def choose_amount(self, value: str):
        self.amount = str(value)[:20]
        self._refresh_offer()

    @rx.event
    def set_amount(self, value: str):
        self.amount = str(value)[:20]
        self._refresh_offer()

    @rx.event
    def set_purchaser_email(self, value: str):
        self.purchaser_email = str(value)[:254]

    @rx.event
    def check_email(self, value: str = ""):
        """Purchaser email entered: show the types reserved for this customer's groups, if any."""
        if value:
            self.purchaser_email = str(value)[:254]
        self._refresh_offer()

    @rx.event
    def set_message(self, value: str):
        self.message = str(value)[:MESSAGE_MAX]

    @rx.event
    def choose_market(self, value: str):
        code = segments.normalize_market(str(value)[:20])
        self.market = code if code in {m["code"] for m in self.markets} else ""
        self.type_notice = ""
        self._refresh_offer()

    # --- paying -------------------------------------------------------------------------------

    def _form(self, form: dict) -> dict:
        fields = ("purchaser_name", "purchaser_email", "recipient_name", "recipient_email", "amount", "message",
                  "certificate_type")
        return {key: str(form.get(key, ""))[:5000] for key in fields}

    @rx.event
    def pay(self, form: dict):
        """Check everything on the server, then ask Stripe.js for a card token."""
        self.errors, self.pay_error = {}, ""
        if self.working:
            return
        order = self._form(form)
        self.purchaser_email, self.amount = order["purchaser_email"][:254], order["amount"][:20]
        self.message = order["message"][:MESSAGE_MAX]
        try:
            with db.read_session() as session:
                ws = purchases.portal_workspace(session, self._slug())
                purchases.validate_purchase(
                    session, ws, certificate_type_id=order["certificate_type"], amount=order["amount"],
                    purchaser_name=order["purchaser_name"], purchaser_email=order["purchaser_email"],
                    recipient_name=order["recipient_name"], recipient_email=order["recipient_email"],
                    message=order["message"], market=self.market)
        except ValidationError as exc:
            return self._invalid(exc)
        except purchases.PortalUnavailable as exc:
            self.phase = "disabled"
            self.pay_error = exc.message
            return
        except DomainError as exc:
            self.pay_error = exc.message
            self._refresh_offer()
            return
        if not gateway.settings().enabled:
            self.pay_error = "Card payments are not set up for this shop yet."
            return
        self._order = order
        self.working = True
        return rx.call_script(TOKENIZE_JS, callback=PortalState.charge)

    @rx.event
    def charge(self, result: dict):
        """Stripe.js answered with a card token (or an error): create the certificate and charge."""
        order, self._order = self._order, {}
        if not order:
            self.working = False
            return
        result = result if isinstance(result, dict) else {}
        token, card_id = str(result.get("token") or "")[:255], str(result.get("card") or "")[:255]
        if result.get("error") or not token.startswith("tok_"):
            self.working = False
            self.pay_error = str(result.get("error") or "Please check your card details.")[:300]
            return
        wait = ratelimit.hit(ratelimit.PORTAL_PAYMENTS_PER_ADDRESS, "portal-pay", self._slug(),
                             self.router.session.client_ip or "unknown")
        if wait is not None:
            self.working = False
            self.pay_error = f"Too many payment attempts. Please try again in {wait_phrase(wait)}."
            return
        try:
            outcome = checkout.pay(slug=self._slug(), form=order, market=self.market,
                                   card=gateway.CardReference(token_id=token, card_id=card_id))
        except ValidationError as exc:
            self.working = False
            return self._invalid(exc)
        except DomainError as exc:
            self.working = False
            self.pay_error = exc.message
            return
        return self._after(outcome)

    def _invalid(self, exc: ValidationError):
        """Show each message beside its field and move focus to the summary that links to them."""
        self.errors = field_errors(exc.errors)
        return rx.call_script(FOCUS_SUMMARY_JS)

    @rx.event
    def authenticated(self, result: dict):
        """Back from the card's authentication step: the server asks Stripe, not the browser."""
        if not self._payment_intent_id:
            self.working = False
            return
        outcome = checkout.finish(certificate_id=self._certificate_id, payment_intent_id=self._payment_intent_id,
                                  confirmation_token=self._confirmation_token)
        if outcome.status == "declined" and isinstance(result, dict) and result.get("error"):
            outcome = checkout.CheckoutResult("declined", str(result["error"])[:300])
        return self._after(outcome)

    def _after(self, outcome: checkout.CheckoutResult):
        if outcome.status == "requires_action":
            self._certificate_id = outcome.certificate_id
            self._payment_intent_id = outcome.payment_intent_id
            self._confirmation_token = outcome.confirmation_token
            return rx.call_script(authenticate_js(outcome.client_secret), callback=PortalState.authenticated)
        self._certificate_id, self._payment_intent_id = 0, ""
        if outcome.status == "succeeded":
            token, self._confirmation_token = outcome.confirmation_token, ""
            return rx.redirect(routes.portal_confirmation(self._slug(), token))
        self._confirmation_token = ""
        self.working = False
        self.pay_error = outcome.message or "The payment did not go through."


# Runs once the summary is on the page (the state update that shows it may land a frame later).
FOCUS_SUMMARY_JS = f"""
(function focusSummary(tries) {{
  const summary = document.getElementById("{ERROR_SUMMARY_ID}");
  if (summary) {{ summary.focus(); summary.scrollIntoView({{block: "center"}}); }}
  else if (tries > 0) {{ setTimeout(() => focusSummary(tries - 1), 30); }}
}})(40);
"""


def _focus_field_js(target) -> rx.Var:
    return rx.Var.create("document.getElementById('") + target + "')?.focus()"


def _error_summary() -> rx.Component:
    """The invalid fields, listed where the form starts: it takes focus, and each entry links to its field."""
    return rx.cond(
        PortalState.error_list.length() > 0,
        rx.box(
            rx.heading("Please correct these fields", size="3", as_="h2", id="portal-error-summary-title",
                       color=rx.color("red", 11)),
            rx.el.ul(
                rx.foreach(PortalState.error_list, lambda e: rx.el.li(
                    rx.el.a(e["label"], ": ", e["message"], href="#" + e["target"],
                            on_click=rx.call_script(_focus_field_js(e["target"])),
                            # a 24 px tall target at least (WCAG 2.2 target size)
                            style={"color": rx.color("red", 11), "text_decoration": "underline",
                                   "display": "inline-block", "padding": "4px 0", "line_height": "20px"}),
                )),
                style={"margin": "0.5rem 0 0", "padding_left": "1.25rem", "font_size": "14px"},
            ),
            id=ERROR_SUMMARY_ID, tab_index=-1, role="region", aria_labelledby="portal-error-summary-title",
            width="100%",
            style={"padding": "1rem", "border_radius": "8px", "border": f"2px solid {rx.color('red', 9)}",
                   "background": rx.color("red", 2), "outline_offset": "2px"},
        ),
    )


def _label(text: str, html_for: str) -> rx.Component:
    return rx.el.label(text, html_for=html_for, style={"font_weight": "500", "font_size": "14px"})


def _error(name: str) -> rx.Component:
    return rx.cond(PortalState.errors.contains(name),
                   rx.text(PortalState.errors[name], color=rx.color("red", 11), size="2", id=f"{name}-error"))


def _field(label: str, name: str, *, type: str = "text", **props) -> rx.Component:
    input_id = f"portal-{name}"
    return rx.vstack(
        _label(label, input_id),
        rx.input(id=input_id, name=name, type=type, width="100%", size="3", aria_describedby=f"{name}-error",
                 aria_invalid=rx.cond(PortalState.errors.contains(name), "true", "false"),
                 color_scheme=rx.cond(PortalState.errors.contains(name), "red", "gray"),
                 variant=rx.cond(PortalState.errors.contains(name), "soft", "surface"), **props),
        _error(name),
        spacing="1", width="100%", align="start",
    )


def _type_card(t: rx.Var) -> rx.Component:
    selected = PortalState.selected_type == t["id"]
    return rx.el.label(
        rx.hstack(
            rx.el.input(type="radio", name="type_choice", value=t["id"], checked=selected,
                        on_change=PortalState.choose_type(t["id"]), aria_label=t["name"],
                        style={"margin_top": "4px"}),
            rx.vstack(
                rx.cond(t["image"] != "", rx.image(src=t["image"], alt="", width="100%", max_height="120px",
                                                   object_fit="cover", border_radius="6px")),
                rx.text(t["name"], weight="bold", size="3"),
                rx.cond(t["description"] != "", rx.text(t["description"], size="2", color=rx.color("gray", 11),
                                                        style={"white_space": "pre-wrap"})),
                rx.text("From ", t["from"], size="1", color=rx.color("gray", 10)),
                spacing="1", align="start", width="100%",
            ),
            spacing="3", align="start", width="100%",
        ),
        style={"display": "block", "cursor": "pointer", "padding": "0.9rem", "border_radius": "10px",
               "border": rx.cond(selected, "2px solid " + t["accent"], f"1px solid {rx.color('gray', 6)}"),
               "border_left": "6px solid " + t["accent"], "background": rx.color("gray", 1)},
    )


def _types() -> rx.Component:
    return rx.cond(
        PortalState.has_types,
        rx.el.fieldset(
            rx.el.legend(rx.heading("Choose a gift certificate", size="4", as_="h2"), id="portal-types",
                         tab_index=-1,
                         style={"margin_bottom": "0.75rem"}),
            rx.cond(PortalState.types.length() > 0,
                    rx.grid(rx.foreach(PortalState.types, _type_card), columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="3", width="100%"),
                    rx.callout("No gift certificates are available for this email address or market.",
                               icon="info", width="100%")),
            rx.cond(PortalState.type_notice != "",
                    rx.callout(PortalState.type_notice, icon="info", color_scheme="amber", size="1",
                               width="100%", margin_top="0.5rem")),
            _error("certificate_type"),
            style={"border": "0", "padding": "0", "margin": "0", "width": "100%"},
        ),
    )


def _market_picker() -> rx.Component:
    return rx.cond(
        PortalState.markets.length() > 0,
        rx.hstack(
            _label("Market", "portal-market"),
            rx.el.select(
                rx.el.option("All markets", value=""),
                rx.foreach(PortalState.markets, lambda m: rx.el.option(m["name"], value=m["code"])),
                id="portal-market", name="market", value=PortalState.market, on_change=PortalState.choose_market,
                style={"height": "32px", "padding": "0 8px", "border_radius": "6px",
                       "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1)},
            ),
            align="center", spacing="2",
        ),
    )


def _amount() -> rx.Component:
    return rx.vstack(
        rx.heading("Choose an amount", size="4", as_="h2"),  # the field below is "Amount"
        rx.hstack(
            rx.foreach(PortalState.presets, lambda p: rx.button(
                p["label"], type="button", size="3",
                variant=rx.cond(PortalState.amount == p["value"], "solid", "outline"),
                on_click=PortalState.choose_amount(p["value"]))),
            wrap="wrap", spacing="2",
        ),
        _label("Amount", "portal-amount"),
        rx.hstack(
            rx.input(id="portal-amount", name="amount", value=PortalState.amount, on_change=PortalState.set_amount,
                     input_mode="decimal", placeholder="Other amount", size="3", width="200px",
                     aria_describedby="amount-hint amount-error",
                     aria_invalid=rx.cond((PortalState.amount_error != "") | PortalState.errors.contains("amount"),
                                          "true", "false")),
            rx.text(PortalState.currency, size="2", color=rx.color("gray", 11)),
            align="center", spacing="2",
        ),
        rx.text(PortalState.bounds_text, id="amount-hint", size="1", color=rx.color("gray", 10)),
        rx.cond(PortalState.amount_error != "",
                rx.text(PortalState.amount_error, color=rx.color("red", 11), size="2", id="amount-error"),
                _error("amount")),
        spacing="2", width="100%", align="start",
    )


def _people() -> rx.Component:
    return rx.vstack(
        rx.heading("Your details", size="4", as_="h2"),
        rx.grid(
            _field("Your name", "purchaser_name", auto_complete="name"),
            rx.vstack(
                _label("Your email", "portal-purchaser_email"),
                rx.input(id="portal-purchaser_email", name="purchaser_email", type="email", size="3", width="100%",
                         auto_complete="email", value=PortalState.purchaser_email,
                         on_change=PortalState.set_purchaser_email, on_blur=PortalState.check_email,
                         aria_describedby="purchaser_email-error",
                         aria_invalid=rx.cond(PortalState.errors.contains("purchaser_email"), "true", "false")),
                _error("purchaser_email"),
                spacing="1", width="100%", align="start",
            ),
            columns=rx.breakpoints(initial="1", sm="2"), spacing="4", width="100%",
        ),
        rx.heading("Recipient", size="4", as_="h2", padding_top="0.5rem"),
        rx.grid(
            _field("Recipient name", "recipient_name"),
            _field("Recipient email", "recipient_email", type="email"),
            columns=rx.breakpoints(initial="1", sm="2"), spacing="4", width="100%",
        ),
        rx.vstack(
            _label("Personal message", "portal-message"),
            rx.text_area(id="portal-message", name="message", value=PortalState.message,
                         on_change=PortalState.set_message, max_length=MESSAGE_MAX, rows="4", width="100%",
                         placeholder="Optional", aria_describedby="message-count message-error"),
            rx.hstack(_error("message"), rx.spacer(),
                      rx.text(PortalState.message_count, id="message-count", size="1", color=rx.color("gray", 10),
                              aria_live="polite"),
                      width="100%"),
            spacing="1", width="100%", align="start",
        ),
        spacing="3", width="100%", align="start",
    )


def _payment() -> rx.Component:
    return rx.vstack(
        rx.heading("Payment", size="4", as_="h2"),
        rx.cond(
            PortalState.summary != "",
            rx.hstack(rx.text("You will be charged", size="3"), rx.spacer(),
                      rx.text(PortalState.summary, size="4", weight="bold", id="portal-total"),
                      width="100%", align="center",
                      style={"padding": "0.75rem 1rem", "border_radius": "8px", "background": rx.color("accent", 3)}),
        ),
        rx.cond(
            PortalState.payments_ready,
            rx.vstack(
                rx.text("Card", size="2", weight="medium"),
                rx.el.div(id=CARD_ELEMENT_ID, role="group", aria_label="Card details",
                          style={"padding": "0.75rem", "border": f"1px solid {rx.color('gray', 7)}",
                                 "border_radius": "8px", "width": "100%", "min_height": "44px",
                                 "background": "white"}),
                spacing="1", width="100%",
            ),
            rx.callout("Card payments are not set up for this shop yet.", icon="triangle-alert", color_scheme="amber",
                       width="100%"),
        ),
        rx.el.div(
            rx.cond(PortalState.pay_error != "",
                    rx.callout(PortalState.pay_error, icon="circle-alert", color_scheme="red", width="100%")),
            role="alert", id="portal-pay-error", style={"width": "100%"},
        ),
        rx.button(PortalState.pay_label, type="submit", size="4", width="100%", loading=PortalState.working,
                  disabled=~PortalState.payments_ready),
        rx.text("Payments are processed securely by Stripe. Your card details never reach our servers.", size="1",
                color=rx.color("gray", 10)),
        spacing="3", width="100%", align="start",
    )


def _purchase_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.vstack(
                rx.heading("Give the gift of travel", size="7", as_="h1"),
                rx.text("Buy a gift certificate that can be redeemed on a future booking.", size="3",
                        color=rx.color("gray", 11)),
                spacing="1",
            ),
            _error_summary(),
            # the offer first; the market (only where the workspace has market segments) narrows it
            _types(),
            _market_picker(),
            rx.el.input(type="hidden", name="certificate_type", value=PortalState.selected_type),
            rx.card(_amount(), width="100%"),
            rx.card(_people(), width="100%"),
            rx.card(_payment(), width="100%"),
            spacing="5", width="100%",
        ),
        on_submit=PortalState.pay,
        reset_on_submit=False,
        no_validate=True,
        width="100%",
    )


def portal_page() -> rx.Component:
    return rx.match(
        PortalState.phase,
        ("ready", shell(_purchase_form(), title=PortalState.shop_name)),
        ("not_found", shell(message_page("search-x", "Shop not found",
                                         "There is no gift certificate shop at this address. Please check the "
                                         "link you were given."), title="Gift certificates")),
        ("disabled", shell(message_page("store", "Gift certificates are not available",
                                        "This shop is not selling gift certificates online at the moment. "
                                        "Please contact the tour operator directly."),
                           title=PortalState.shop_name)),
        rx.center(rx.spinner(size="3"), min_height="60vh", aria_label="Loading"),
    )
