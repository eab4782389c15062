"""/dashboard/settings: portal on/off, amount bounds, presets, expiry, currency, timezone."""

from __future__ import annotations

import reflex as rx

from giftcerts import config, db
from giftcerts.core import delivery, money, orders, workspaces
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.ui.components import present
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import field_error, native_select, text_field
from giftcerts.ui.components.layout import dashboard_page

CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "SEK", "NOK", "DKK", "ISK", "MXN", "ZAR"]
TIMEZONES = ["UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
             "America/Toronto", "America/Mexico_City", "Europe/London", "Europe/Paris", "Europe/Berlin",
             "Europe/Zurich", "Europe/Oslo", "Atlantic/Reykjavik", "Africa/Johannesburg", "Asia/Tokyo",
             "Australia/Sydney", "Pacific/Auckland"]


def embed_snippet() -> str:
    """What the booking site puts on its checkout page."""
    base = config.public_url()
    return f"""<iframe title="Gift certificate" width="100%" height="400" style="border:0"
        src="{base}/widget/redeem?session=WIDGET_SESSION_TOKEN"></iframe>
<script>
  window.addEventListener("message", function (event) {{
    if (event.origin !== "{base}") return;  // only the widget
    if (!event.data || event.data.type !== "giftcerts:redeemed") return;
    // event.data: action ("applied" | "removed"), order_id, amount_applied_cents,
    //             amount_due_cents, currency, code_last4
    // Re-read the order on your server (GET /api/v1/orders/ORDER_ID), then show its amount due.
  }});
</script>"""


def server_snippet(currency: str) -> str:
    """What the booking site's server runs first (the API key never reaches the browser)."""
    base = config.public_url()
    return f"""# 1. Open the order (once per booking)
curl -X POST {base}/api/v1/orders \\
  -H "Authorization: Bearer $GIFTCERTS_API_KEY" -H "Content-Type: application/json" \\
  -d '{{"reference": "BK-10482", "total_cents": 48000, "currency": "{currency}",
       "customer_email": "guest@example.com"}}'

# 2. Create a widget session for it (each time the checkout page is shown; valid 30 minutes)
curl -X POST {base}/api/v1/widget-sessions \\
  -H "Authorization: Bearer $GIFTCERTS_API_KEY" -H "Content-Type: application/json" \\
  -d '{{"order_id": ORDER_ID}}'
# -> {{"token": "gcw_...", "url": "{base}/widget/redeem?session=gcw_...", ...}}: use it as the iframe's src"""


class SettingsState(AuthState):
    errors: dict[str, str] = {}
    portal_enabled: bool = True
    min_amount: str = ""
    max_amount: str = ""
    expiry_days: str = ""
    currency: str = "USD"
    timezone: str = "UTC"
    number_format: str = money.DEFAULT_LOCALE
    preset_amounts: str = ""
    preset_hint: str = "Comma-separated, e.g. 50, 100, 250"
    embed_origins: str = ""
    reminder_days: str = ""
    booking_url: str = ""
    hold_minutes: str = ""
    embed_snippet: str = ""
    server_snippet: str = ""
    currency_options: list[str] = []
    timezone_options: list[str] = []
    form_key: int = 0
    loaded: bool = False

    def _fill(self, ws) -> None:
        self.portal_enabled = ws.portal_enabled
        self.number_format = ws.locale
        self.min_amount = present.amount_input(ws.min_amount_cents, ws.currency, ws.locale)
        self.max_amount = present.amount_input(ws.max_amount_cents, ws.currency, ws.locale)
        self.expiry_days = str(ws.expiry_days)
        self.currency = ws.currency
        self.timezone = ws.timezone
        comma = money.uses_decimal_comma(ws.locale)  # then "," is the decimal separator, ";" separates
        self.preset_amounts = ("; " if comma else ", ").join(present.amount_input(v, ws.currency, ws.locale)
                                                             for v in workspaces.preset_list(ws))
        self.preset_hint = "Semicolon-separated, e.g. 50; 100; 12,50" if comma else "Comma-separated, e.g. 50, 100, 250"
        self.currency_options = sorted({*CURRENCIES, ws.currency})
        self.timezone_options = sorted({*TIMEZONES, ws.timezone})
        self.embed_origins = ws.embed_origins
        self.reminder_days = ", ".join(ws.reminder_days.split(","))
        self.booking_url = ws.booking_url
        self.hold_minutes = str(ws.hold_minutes)
        self.embed_snippet = embed_snippet()
        self.server_snippet = server_snippet(ws.currency)
        self.form_key += 1  # remount the uncontrolled inputs with the stored values

    @rx.event
    def on_load(self):
        self.errors = {}
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        self._fill(self._workspace(principal))
        self.loaded = True

    @rx.event
    def save(self, form: dict):
        try:
            principal = self._guard(owner=True)
            extra_errors: dict[str, str] = {}  # reminders and booking link (giftcerts.core.delivery)
            extra = delivery.validate(reminder_days=_optional(form, "reminder_days", 100),
                                      booking_url=_optional(form, "booking_url", 600), errors=extra_errors)
            hold = _optional(form, "hold_minutes", 10)
            hold_minutes = None if hold is None else orders.clean_hold_minutes(hold, extra_errors)
            try:
                change = workspaces.validate_settings(
                    portal_enabled=form.get("portal_enabled") in ("on", "true", True),
                    min_amount=str(form.get("min_amount", ""))[:40],
                    max_amount=str(form.get("max_amount", ""))[:40],
                    expiry_days=str(form.get("expiry_days", ""))[:10],
                    currency=str(form.get("currency", ""))[:3],
                    timezone=str(form.get("timezone", ""))[:64],
                    preset_amounts=str(form.get("preset_amounts", ""))[:500],
                    embed_origins=str(form.get("embed_origins", ""))[:2000],
                    number_format=_optional(form, "number_format", 16),
                    locale=self._workspace(principal).locale,  # the format the form showed amounts in
                )
            except ValidationError as exc:
                raise ValidationError({**exc.errors, **extra_errors}) from None
            if extra_errors:
                raise ValidationError(extra_errors)
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                workspaces.apply_settings(session, ws, change)
                delivery.apply(session, ws, extra)
                if hold_minutes is not None:
                    orders.set_hold_minutes(session, ws, hold_minutes)
        except ValidationError as exc:
            self.errors = exc.errors
            return rx.toast.error("Settings not saved: please correct the highlighted fields.")
        except DomainError as exc:
            return self._refuse(exc)
        self.errors = {}
        self._fill(ws)
        return rx.toast.success("Settings saved.")


def _optional(form: dict, name: str, limit: int) -> str | None:
    """A field's text, or None when the form did not include it (leave the setting unchanged)."""
    return str(form[name])[:limit] if name in form else None


def settings_page() -> rx.Component:
    s = SettingsState
    return dashboard_page(
        "Settings",
        rx.cond(
            s.loaded,
            rx.card(
                rx.form(
                    rx.vstack(
                        rx.heading("Public purchase portal", size="4", as_="h2"),
                        rx.el.label(
                            rx.hstack(
                                rx.el.input(type="checkbox", name="portal_enabled", id="field-portal_enabled",
                                            default_checked=s.portal_enabled),
                                rx.text("Public portal enabled: customers can buy certificates online", size="2"),
                                align="center", spacing="2",
                            ),
                            html_for="field-portal_enabled",
                        ),
                        rx.grid(
                            text_field("Minimum amount", "min_amount", s.errors, default_value=s.min_amount,
                                       input_mode="decimal"),
                            text_field("Maximum amount", "max_amount", s.errors, default_value=s.max_amount,
                                       input_mode="decimal"),
                            text_field("Preset amounts", "preset_amounts", s.errors, default_value=s.preset_amounts,
                                       hint=s.preset_hint),
                            text_field("Expiry days", "expiry_days", s.errors, default_value=s.expiry_days,
                                       input_mode="numeric", hint="Certificates expire this many days after activation"),
                            rx.vstack(
                                native_select("Currency", "currency", s.currency_options,
                                              default_value=s.currency),
                                field_error(s.errors, "currency"),
                                spacing="1",
                            ),
                            rx.vstack(
                                native_select("Timezone", "timezone", s.timezone_options,
                                              default_value=s.timezone),
                                field_error(s.errors, "timezone"),
                                spacing="1",
                            ),
                            rx.vstack(
                                native_select("Number format", "number_format", list(money.NUMBER_FORMATS.items()),
                                              default_value=s.number_format),
                                field_error(s.errors, "number_format"),
                                rx.text("How amounts are typed in the dashboard and the portal "
                                        "(amounts above are in the current one)", size="1",
                                        color=rx.color("gray", 11)),
                                spacing="1",
                            ),
                            columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="4",
                            width="100%",
                        ),
                        rx.separator(size="4"),
                        rx.heading("Certificates and reminders", size="4", as_="h2"),
                        rx.grid(
                            text_field("Reminder days", "reminder_days", s.errors, default_value=s.reminder_days,
                                       hint="Remind holders this many days before expiry, e.g. 30, 7 "
                                            "(empty: no automatic reminders)"),
                            text_field("Booking link", "booking_url", s.errors, default_value=s.booking_url,
                                       placeholder="https://booking.example.com/?voucher={code}",
                                       hint="The page the certificate's QR code and emails link to; {code} is "
                                            "replaced by the code (empty: no QR code or booking link)"),
                            columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="4",
                            width="100%",
                        ),
                        rx.separator(size="4"),
                        rx.heading("Redemption widget", size="4", as_="h2"),
                        text_field("Checkout hold time (minutes)", "hold_minutes", s.errors,
                                   default_value=s.hold_minutes, input_mode="numeric",
                                   hint="A certificate applied at checkout is held for the booking; if the order "
                                        "is not completed within this time the checkout counts as abandoned and "
                                        "the certificate is released. 0: hold until the order is completed or "
                                        "cancelled."),
                        text_field("Embed origins", "embed_origins", s.errors, default_value=s.embed_origins,
                                   placeholder="https://booking.example.com",
                                   hint="The booking sites allowed to show the widget in an iframe and to receive "
                                        "its messages, separated by spaces, e.g. https://booking.example.com "
                                        "(http:// only for localhost)."),
                        rx.cond(
                            s.is_owner,
                            rx.hstack(rx.button("Save settings", type="submit"), justify="end", width="100%"),
                            rx.callout("Only an owner of this workspace can change settings.", icon="lock",
                                       width="100%"),
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    on_submit=s.save,
                    reset_on_submit=False,
                    no_validate=True,
                    key=s.form_key,
                ),
                width="100%",
                max_width="760px",
            ),
            rx.center(rx.spinner(size="3"), padding="3rem", width="100%"),
        ),
        rx.cond(s.loaded, _embedding()),
        rx.card(
            rx.hstack(
                rx.vstack(rx.heading("API keys", size="4", as_="h2"),
                          rx.text("Keys your booking platform's server uses to call the API, and the "
                                  "webhooks that tell it what happened.", size="2",
                                  color=rx.color("gray", 11)),
                          spacing="1"),
                rx.spacer(),
                rx.hstack(
                    rx.link(rx.button(rx.icon("key-round", size=16), "Manage API keys", variant="soft"),
                            href=routes.API_KEYS),
                    rx.link(rx.button(rx.icon("webhook", size=16), "Webhooks", variant="soft"),
                            href=routes.WEBHOOKS),
                    spacing="2", wrap="wrap",
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            width="100%",
            max_width="760px",
        ),
    )


def _snippet(title: str, text, label: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(title, size="2", weight="medium"),
            rx.spacer(),
            rx.button(rx.icon("copy", size=14), "Copy", size="1", variant="soft", type="button",
                      aria_label="Copy " + label,
                      on_click=[rx.set_clipboard(text), rx.toast.success("Copied to the clipboard.")]),
            width="100%",
            align="center",
        ),
        rx.el.pre(
            rx.el.code(text),
            aria_label=label,
            # it scrolls sideways: focusable, so keyboard users can scroll it too
            tab_index=0,
            style={"width": "100%", "margin": "0", "padding": "0.75rem", "overflow_x": "auto",
                   "font_size": "12px", "line_height": "1.5", "border_radius": "6px",
                   "background": rx.color("gray", 3), "border": f"1px solid {rx.color('gray', 5)}"},
        ),
        spacing="2",
        width="100%",
    )


def _embedding() -> rx.Component:
    s = SettingsState
    return rx.card(
        rx.vstack(
            rx.heading("Embed the widget on your checkout page", size="4", as_="h2"),
            rx.text("Your server opens the order and a widget session with your API key; the page shows the widget "
                    "in an iframe and listens for its messages. Add your booking site to Embed origins above first.",
                    size="2", color=rx.color("gray", 11)),
            _snippet("On your server", s.server_snippet, "server snippet"),
            _snippet("On your checkout page", s.embed_snippet, "embed snippet"),
            spacing="3",
            width="100%",
        ),
        width="100%",
        max_width="760px",
    )
