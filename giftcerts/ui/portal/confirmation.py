"""/portal/[workspace]/confirmation?token=...: the page after paying, showing the code.

Public: the unguessable token in the link is the only authority. While the payment is still
confirming it asks Stripe itself (the webhook may be late) and looks again for a minute."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from giftcerts import db
from giftcerts.clock import format_date
from giftcerts.core import documents, money, purchases
from giftcerts.core.codes import format_code
from giftcerts.core.errors import NotFound
from giftcerts.models import CertificateStatus
from giftcerts.payments import checkout, gateway
from giftcerts.ui.portal.shell import message_page, shell
from giftcerts.web import routes


class ConfirmationState(rx.State):
    phase: str = "loading"  # loading | ready | pending | cancelled | voided | not_found
    shop_name: str = ""
    code: str = ""
    amount: str = ""
    type_name: str = ""
    recipient_name: str = ""
    recipient_email: str = ""
    purchaser_email: str = ""
    message: str = ""
    expires: str = ""
    pdf_href: str = ""
    checks: int = 0
    # The code and the download link stay on the confirmation page (giftcerts.ui.session_boundary).
    one_view_secrets: ClassVar[tuple[str, ...]] = ("code", "pdf_href", "recipient_email", "purchaser_email",
                                                   "message")
    one_view_route: ClassVar[str] = routes.PORTAL_CONFIRMATION

    def _load(self) -> None:
        slug = str(self.router.page.params.get("workspace", ""))[:63]
        token = str(self.router.url.query_parameters.get("token", ""))[:100]
        try:
            with db.read_session() as session:
                ws, cert = purchases.confirmation(session, slug=slug, token=token)
                type_name = purchases.type_label(session, cert)
            if cert.status == CertificateStatus.PENDING.value and cert.stripe_payment_intent_id:
                try:  # the webhook may be late: ask Stripe ourselves
                    cert = checkout.settle_from_stripe(cert.stripe_payment_intent_id) or cert
                except (gateway.GatewayError, gateway.PaymentsNotConfigured):
                    pass
        except NotFound:
            self.phase = "not_found"
            return
        self.shop_name = ws.name
        self.amount = money.format_money(cert.amount_cents, cert.currency)
        self.type_name = type_name
        self.recipient_name, self.recipient_email = cert.recipient_name, cert.recipient_email
        self.purchaser_email, self.message = cert.purchaser_email, cert.message
        if cert.status == CertificateStatus.PENDING.value:
            self.phase, self.code, self.expires = "pending", "", ""
        elif cert.activated_at is None:
            self.phase, self.code, self.expires = "cancelled", "", ""
        elif cert.status in (CertificateStatus.VOIDED.value, CertificateStatus.REFUNDING.value):
            self.phase, self.code, self.expires = "voided", "", ""
        else:
            self.phase = "ready"
            self.code = format_code(cert.code)
            self.expires = format_date(cert.expires_at, ws.timezone)
            with db.write_session() as session:  # the unguessable download link, made on first use
                self.pdf_href = documents.pdf_path(session, cert)

    @rx.event
    def download_pdf(self):
        if self.phase == "ready" and self.pdf_href:
            return rx.download(url=self.pdf_href + "?download=1", filename=f"gift-certificate-{self.code}.pdf")

    @rx.event
    def on_load(self):
        self.phase, self.checks = "loading", 0
        self._load()
        if self.phase == "pending":
            return rx.call_script("new Promise(function (r) { setTimeout(function () { r(true); }, 1500); })",
                                  callback=ConfirmationState.recheck)

    @rx.event
    def recheck(self, _result=None):
        """While the payment is confirming: look again, for a minute at most."""
        if self.phase != "pending" or self.checks >= 40:
            return
        self.checks += 1
        self._load()
        if self.phase == "pending":
            return rx.call_script("new Promise(function (r) { setTimeout(function () { r(true); }, 1500); })",
                                  callback=ConfirmationState.recheck)


def _pdf_link() -> rx.Component:
    c = ConfirmationState
    return rx.hstack(
        # The client-side router would take a plain link to the PDF route for a page: the click
        # downloads through an event instead (the href stays for "copy link" and screen readers).
        rx.el.a(rx.hstack(rx.icon("download", size=16), rx.text("Download PDF"), spacing="2", align="center"),
                href=c.pdf_href + "?download=1", on_click=[rx.prevent_default, c.download_pdf],
                style={"color": rx.color("accent", 11), "font_weight": "500"}),
        rx.text("The certificate is also emailed to the recipient, and a receipt to ", c.purchaser_email, ".",
                size="2", color=rx.color("gray", 11)),
        spacing="4", align="center", wrap="wrap",
    )


def _confirmation_item(label: str, value, **props) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color=rx.color("gray", 10), weight="medium"),
                     rx.text(value, size="3", style={"overflow_wrap": "anywhere", "white_space": "pre-wrap"}, **props),
                     spacing="0", align="start")


def _confirmed() -> rx.Component:
    c = ConfirmationState
    return rx.vstack(
        rx.callout("Thank you! Your payment was successful.", icon="circle-check", color_scheme="green",
                   width="100%", role="status"),
        rx.heading("Your gift certificate", size="6", as_="h1"),
        rx.card(
            rx.vstack(
                rx.text("Redemption code", size="2", color=rx.color("gray", 11)),
                rx.code(c.code, size="8", weight="bold", variant="ghost", id="certificate-code",
                        aria_label="Redemption code", style={"letter_spacing": "0.08em"}),
                rx.separator(size="4"),
                rx.grid(
                    _confirmation_item("Amount", c.amount, id="certificate-amount"),
                    _confirmation_item("Recipient", c.recipient_name, id="certificate-recipient"),
                    _confirmation_item("Recipient email", c.recipient_email),
                    _confirmation_item("Valid until", c.expires, id="certificate-expires"),
                    rx.cond(c.type_name != "", _confirmation_item("Certificate", c.type_name)),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="4", width="100%",
                ),
                rx.cond(c.message != "", _confirmation_item("Personal message", c.message)),
                spacing="3", width="100%", align="start",
            ),
            width="100%",
        ),
        _pdf_link(),
        rx.text("Keep this code safe: it is redeemed in full on one booking. Enter it at checkout when booking.",
                size="2", color=rx.color("gray", 11)),
        spacing="4", width="100%", align="start",
    )


def confirmation_page() -> rx.Component:
    c = ConfirmationState
    return rx.match(
        c.phase,
        ("ready", shell(_confirmed(), title=c.shop_name)),
        ("pending", shell(rx.center(rx.vstack(rx.spinner(size="3"),
                                              rx.heading("Confirming your payment…", size="5", as_="h1"),
                                              rx.text("This usually takes a few seconds.", size="2"),
                                              align="center", spacing="3", role="status"),
                                    padding="4rem 1rem", width="100%"), title=c.shop_name)),
        ("cancelled", shell(message_page("circle-x", "This purchase was not completed",
                                         "The payment did not go through, so no certificate was issued."),
                            title=c.shop_name)),
        ("voided", shell(message_page("ban", "This gift certificate was cancelled",
                                      "It can no longer be redeemed. Please contact the tour operator if you "
                                      "have questions."), title=c.shop_name)),
        ("not_found", shell(message_page("search-x", "Confirmation not found",
                                         "This confirmation link is not valid."), title="Gift certificates")),
        rx.center(rx.spinner(size="3"), min_height="60vh", aria_label="Loading"),
    )
