"""/dashboard/settings: portal on/off, amount bounds, presets, expiry, currency, timezone."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.core import workspaces
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.ui import present
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components import dashboard_page, field_error, native_select, text_field

CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "SEK", "NOK", "DKK", "ISK", "MXN", "ZAR"]
TIMEZONES = ["UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
             "America/Toronto", "America/Mexico_City", "Europe/London", "Europe/Paris", "Europe/Berlin",
             "Europe/Zurich", "Europe/Oslo", "Atlantic/Reykjavik", "Africa/Johannesburg", "Asia/Tokyo",
             "Australia/Sydney", "Pacific/Auckland"]


class SettingsState(AuthState):
    errors: dict[str, str] = {}
    portal_enabled: bool = True
    min_amount: str = ""
    max_amount: str = ""
    expiry_days: str = ""
    currency: str = "USD"
    timezone: str = "UTC"
    preset_amounts: str = ""
    currency_options: list[str] = []
    timezone_options: list[str] = []
    form_key: int = 0
    loaded: bool = False

    def _fill(self, ws) -> None:
        self.portal_enabled = ws.portal_enabled
        self.min_amount = present.amount_input(ws.min_amount_cents, ws.currency)
        self.max_amount = present.amount_input(ws.max_amount_cents, ws.currency)
        self.expiry_days = str(ws.expiry_days)
        self.currency = ws.currency
        self.timezone = ws.timezone
        self.preset_amounts = ", ".join(present.amount_input(v, ws.currency) for v in workspaces.preset_list(ws))
        self.currency_options = sorted({*CURRENCIES, ws.currency})
        self.timezone_options = sorted({*TIMEZONES, ws.timezone})
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
            change = workspaces.validate_settings(
                portal_enabled=form.get("portal_enabled") in ("on", "true", True),
                min_amount=str(form.get("min_amount", ""))[:40],
                max_amount=str(form.get("max_amount", ""))[:40],
                expiry_days=str(form.get("expiry_days", ""))[:10],
                currency=str(form.get("currency", ""))[:3],
                timezone=str(form.get("timezone", ""))[:64],
                preset_amounts=str(form.get("preset_amounts", ""))[:500],
            )
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                workspaces.apply_settings(session, ws, change)
        except ValidationError as exc:
            self.errors = exc.errors
            return rx.toast.error("Settings not saved: please correct the highlighted fields.")
        except DomainError as exc:
            return self._refuse(exc)
        self.errors = {}
        self._fill(ws)
        return rx.toast.success("Settings saved.")


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
                                       hint="Comma-separated, e.g. 50, 100, 250"),
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
                            columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="4",
                            width="100%",
                        ),
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
    )
