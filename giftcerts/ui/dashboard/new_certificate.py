"""/dashboard/certificates/new: a manual sale taken by phone or email."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.core import lifecycle, money
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.models import CertificateSource
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import text_field, textarea_field
from giftcerts.ui.components.layout import dashboard_page


class NewCertificateState(AuthState):
    errors: dict[str, str] = {}
    bounds: str = ""
    currency: str = ""
    amount_example: str = "100.00"  # in the workspace's number format
    saving: bool = False

    @rx.event
    def on_load(self):
        self.errors = {}
        try:
            principal = self._guard(write=True)
        except DomainError as exc:
            return self._refuse(exc)
        ws = self._workspace(principal)
        self.currency = ws.currency
        self.amount_example = money.format_plain(10000, "USD", locale=ws.locale)
        self.bounds = (f"Between {money.format_money(ws.min_amount_cents, ws.currency)} and "
                       f"{money.format_money(ws.max_amount_cents, ws.currency)}")

    @rx.event
    def create(self, form: dict):
        text = {key: str(form.get(key, ""))[:5000] for key in
                ("purchaser_name", "purchaser_email", "recipient_name", "recipient_email", "amount", "message")}
        paid = form.get("paid") in ("on", "true", True)
        try:
            principal = self._guard(write=True)
            ws = self._workspace(principal)
            with db.write_session() as session:
                cert = lifecycle.issue_certificate(session, ws, source=CertificateSource.MANUAL, paid=paid,
                                                   actor=principal.email, **text)
        except ValidationError as exc:
            self.errors = exc.errors
            return
        except DomainError as exc:
            return self._refuse(exc)
        self.errors = {}
        return [rx.toast.success("Certificate created." if paid else "Certificate created as Pending."),
                rx.redirect(routes.certificate(cert.id))]


def new_certificate_page() -> rx.Component:
    errors = NewCertificateState.errors
    return dashboard_page(
        "New certificate",
        rx.text("Record a sale taken by phone or email. The certificate is active as soon as payment is received.",
                size="2", color=rx.color("gray", 11)),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.grid(
                        text_field("Purchaser name", "purchaser_name", errors, auto_complete="off"),
                        text_field("Purchaser email", "purchaser_email", errors, type="email"),
                        text_field("Recipient name", "recipient_name", errors),
                        text_field("Recipient email", "recipient_email", errors, type="email"),
                        columns=rx.breakpoints(initial="1", sm="2"),
                        spacing="4",
                        width="100%",
                    ),
                    text_field("Amount", "amount", errors, placeholder=NewCertificateState.amount_example, input_mode="decimal",
                               hint=NewCertificateState.bounds + " (" + NewCertificateState.currency + ")"),
                    textarea_field("Personal message", "message", errors, placeholder="Optional"),
                    rx.el.label(
                        rx.hstack(
                            rx.el.input(type="checkbox", name="paid", id="field-paid", default_checked=True),
                            rx.text("Payment received (create as Active; otherwise Pending until marked as paid)",
                                    size="2"),
                            align="center",
                            spacing="2",
                        ),
                        html_for="field-paid",
                    ),
                    rx.hstack(
                        rx.link(rx.button("Cancel", variant="soft", color_scheme="gray", type="button"),
                                href=routes.CERTIFICATES),
                        rx.button("Create certificate", type="submit"),
                        justify="end",
                        width="100%",
                        spacing="3",
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=NewCertificateState.create,
                reset_on_submit=False,
                no_validate=True,
            ),
            width="100%",
            max_width="760px",
        ),
    )
