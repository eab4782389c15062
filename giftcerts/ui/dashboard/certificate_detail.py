"""/dashboard/certificates/[cert_id]: every field, the activity timeline, and the actions."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from giftcerts import db
from giftcerts.core import activity, delivery, documents, lifecycle, redemption
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.core.ids import parse_id
from giftcerts.payments import checkout
from giftcerts.ui.components import present
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import detail_item, field_error, status_badge
from giftcerts.ui.components.layout import detail_page


class CertificateState(AuthState):
    cert: dict[str, str] = {}
    timeline: list[dict[str, str]] = []
    uses: list[dict[str, str]] = []  # orders this certificate was applied to, newest first
    not_found: bool = False
    loaded: bool = False
    void_open: bool = False
    errors: dict[str, str] = {}
    working: bool = False
    void_error: str = ""
    # The "Resend email" dialog
    resend_open: bool = False
    resend_to: str = "recipient"
    one_view_secrets: ClassVar[tuple[str, ...]] = ("cert",)  # the full code
    one_view_route: ClassVar[str] = routes.CERTIFICATE

    def _cert_id(self) -> int | None:
        raw = str(self.router.page.params.get("cert_id", ""))
        return parse_id(raw)

    def _refresh(self, principal) -> None:
        cert_id = self._cert_id()
        ws = self._workspace(principal)
        with db.read_session() as session:
            try:
                cert = lifecycle.get_certificate(session, workspace_id=principal.workspace_id,
                                                 certificate_id=cert_id or 0)
            except DomainError:
                self.cert, self.timeline, self.uses, self.not_found = {}, [], [], True
                return
            entries = activity.history(session, workspace_id=principal.workspace_id, certificate_id=cert.id)
            uses = redemption.certificate_redemptions(session, cert)
        self.uses = [present.certificate_use_row(red, order, ws) for red, order in uses]
        self.not_found = False
        self.cert = present.certificate_detail(cert, ws)
        self.timeline = [present.activity_row(e, ws) for e in reversed(entries)]

    @rx.event
    def on_load(self):
        self.loaded = False
        self.void_open = self.resend_open = False  # a dialog left open does not reopen on the next page
        self.errors = {}
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        self._refresh(principal)
        self.loaded = True

    def _act(self, action, success: str):
        """Run one lifecycle action as the signed-in staff member of this workspace."""
        try:
            principal = self._guard(write=True)
            ws = self._workspace(principal)
            with db.write_session() as session:
                action(session, ws, principal)
        except ValidationError as exc:
            self.errors = exc.errors
            return
        except DomainError as exc:
            self._refresh_if_signed_in()
            return self._refuse(exc)
        self.errors = {}
        self.void_open = False
        self._refresh(principal)
        return rx.toast.success(success)

    def _refresh_if_signed_in(self) -> None:
        principal = self._principal()
        if principal is not None:
            self._refresh(principal)

    @rx.event
    def open_void(self):
        self.errors = {}
        self.void_error = ""
        self.void_open = True

    @rx.event
    def set_void_open(self, value: bool):
        self.void_open = bool(value)

    @rx.event
    def void(self, form: dict):
        """Void; a paid portal certificate is refunded through Stripe first (checkout.void_with_refund)."""
        cert_id = self._cert_id() or 0
        reason = str(form.get("reason", ""))[:2000]
        self.void_error = ""
        try:
            principal = self._guard(write=True)
            cert = checkout.void_with_refund(workspace_id=principal.workspace_id, certificate_id=cert_id,
                                             reason=reason, actor=principal.email)
        except ValidationError as exc:
            self.errors = exc.errors
            return
        except checkout.RefundFailed as exc:
            self.void_error = exc.message  # stays on screen: money and certificate need a person's eye
            self._refresh_if_signed_in()
            return rx.toast.error(exc.message)
        except DomainError as exc:
            self._refresh_if_signed_in()
            return self._refuse(exc)
        self.errors = {}
        self.void_open = False
        self._refresh(principal)
        return rx.toast.success("Certificate voided and payment refunded." if cert.stripe_refund_id
                                else "Certificate voided.")

    @rx.event
    def reactivate(self):
        cert_id = self._cert_id() or 0
        return self._act(
            lambda s, ws, p: lifecycle.reactivate_certificate(s, ws, certificate_id=cert_id, actor=p.email),
            "Certificate reactivated.",
        )

    @rx.event
    def mark_paid(self):
        cert_id = self._cert_id() or 0
        return self._act(
            lambda s, ws, p: lifecycle.mark_paid(s, ws, certificate_id=cert_id, actor=p.email,
                                                 details="Payment recorded by staff"),
            "Payment recorded: the certificate is now active.",
        )


    # --- the certificate PDF and "Resend email" --------------------------------------------

    @rx.event
    def download_pdf(self):
        """Viewers may download too; the link is the certificate's unguessable PDF link."""
        try:
            principal = self._guard()
            with db.write_session() as session:
                cert = lifecycle.get_certificate(session, workspace_id=principal.workspace_id,
                                                 certificate_id=self._cert_id() or 0)
                if cert.activated_at is None:
                    return rx.toast.error("This certificate is not paid yet, so it has no PDF.")
                path, name = documents.pdf_path(session, cert), documents.filename(cert)
        except DomainError as exc:
            return self._refuse(exc)
        return rx.download(url=path + "?download=1", filename=name)

    @rx.event
    def set_resend_open(self, value: bool):
        self.resend_open = bool(value)
        self.resend_to = "recipient"
        self.errors = {}

    @rx.event
    def set_resend_to(self, value: str):
        self.resend_to = value if value in delivery.RESEND_CHOICES else "recipient"

    @rx.event
    def resend(self, form: dict):
        cert_id = self._cert_id() or 0
        choice = str(form.get("send_to", self.resend_to))[:20]
        address = str(form.get("address", ""))[:300]
        sent_to: list[str] = []

        def action(s, ws, p):
            sent_to.append(delivery.resend_certificate(s, ws, certificate_id=cert_id, send_to=choice,
                                                       address=address, actor=p.email))
        result = self._act(action, "Email queued.")
        if sent_to:
            self.resend_open = False
            return rx.toast.success(f"The certificate email is on its way to {sent_to[0]}.")
        return result


def _resend_dialog() -> rx.Component:
    s = CertificateState
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("mail", size=16), "Resend email", variant="soft")),
        rx.dialog.content(
            rx.dialog.title("Resend the certificate email"),
            rx.dialog.description("The certificate email with its PDF is sent again.", size="2"),
            rx.form(
                rx.vstack(
                    rx.el.label("Send to", html_for="field-send_to", style={"font_weight": "500", "font_size": "14px"}),
                    rx.el.select(
                        rx.el.option("Recipient (" + s.cert["recipient_email"] + ")", value="recipient"),
                        rx.el.option("Purchaser (" + s.cert["purchaser_email"] + ")", value="purchaser"),
                        rx.el.option("Another address", value="other"),
                        id="field-send_to", name="send_to", value=s.resend_to, on_change=s.set_resend_to,
                        style={"height": "32px", "padding": "0 8px", "border_radius": "6px", "width": "100%",
                               "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1)},
                    ),
                    field_error(s.errors, "send_to"),
                    rx.cond(s.resend_to == "other", rx.vstack(
                        rx.el.label("Email address", html_for="field-address",
                                    style={"font_weight": "500", "font_size": "14px"}),
                        rx.input(id="field-address", name="address", type="email", width="100%",
                                 aria_describedby="address-error"),
                        field_error(s.errors, "address"),
                        spacing="1", width="100%")),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Send email", type="submit"),
                        justify="end", width="100%", spacing="3",
                    ),
                    spacing="2", width="100%", padding_top="1rem",
                ),
                on_submit=s.resend,
                reset_on_submit=False,
                no_validate=True,
            ),
            max_width="460px",
        ),
        open=s.resend_open,
        on_open_change=s.set_resend_open,
    )


VOID_BUTTON_ID = "void-button"


def _void_dialog() -> rx.Component:
    in_progress = CertificateState.cert["status"] == "refunding"  # a void whose refund did not finish
    # The button opens the (controlled) dialog itself rather than through a Radix trigger: a
    # trigger around a button that reads state gets wrapped in a <div> that takes the trigger's
    # button role and aria-expanded, which is not allowed there. Closing hands focus back to it.
    return rx.fragment(rx.button(
        rx.icon("ban", size=16, aria_hidden="true"), rx.cond(in_progress, "Finish void and refund", "Void"),
        id=VOID_BUTTON_ID, color_scheme="red", variant="soft", aria_haspopup="dialog",
        on_click=CertificateState.open_void,
    ), rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Void this certificate?"),
            rx.alert_dialog.description(
                rx.cond(in_progress,
                        "Voiding began " + CertificateState.cert["refund_requested_at"] + " and Stripe's "
                        "answer about the refund has not been recorded, so the certificate cannot be used "
                        "meanwhile. Finishing asks Stripe again: the payment is refunded once at most, then the "
                        "certificate is voided (or back to how it was if Stripe refuses).",
                rx.cond(CertificateState.cert["refundable"] == "yes",
                        "It can no longer be redeemed, and the card payment of " + CertificateState.cert["amount"]
                        + " is refunded to the purchaser through Stripe. A refunded certificate cannot be "
                          "reactivated.",
                        "It can no longer be redeemed. You can reactivate it later unless it expires meanwhile.")),
                size="2",
            ),
            rx.cond(CertificateState.void_error != "",
                    rx.callout(CertificateState.void_error, icon="circle-alert", color_scheme="red", size="1",
                               role="alert", margin_top="0.75rem")),
            rx.form(
                rx.vstack(
                    rx.cond(
                        in_progress,
                        rx.text("Reason given: ", CertificateState.cert["void_reason"], size="2"),
                        rx.fragment(
                            rx.el.label("Reason", html_for="void-reason",
                                        style={"font_weight": "500", "font_size": "14px"}),
                            rx.text_area(id="void-reason", name="reason", placeholder="e.g. Refunded to the customer",
                                         max_length=500, width="100%", auto_focus=True,
                                         aria_describedby="reason-error"),
                            field_error(CertificateState.errors, "reason"),
                        ),
                    ),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                         type="button")),
                        rx.button(rx.cond(in_progress, "Finish", "Void certificate"), color_scheme="red",
                                  type="submit"),
                        justify="end",
                        width="100%",
                        spacing="3",
                    ),
                    spacing="2",
                    width="100%",
                    padding_top="1rem",
                ),
                on_submit=CertificateState.void,
                reset_on_submit=False,
                no_validate=True,
            ),
            max_width="460px",
            on_close_auto_focus=rx.call_script(f"document.getElementById('{VOID_BUTTON_ID}')?.focus()"),
        ),
        open=CertificateState.void_open,
        on_open_change=CertificateState.set_void_open,
    ))


def _actions() -> rx.Component:
    status = CertificateState.cert["status"]
    return rx.hstack(
        rx.cond(status != "pending",
                rx.button(rx.icon("file-down", size=16), "Download PDF", variant="soft",
                          on_click=CertificateState.download_pdf)),
        rx.cond(CertificateState.can_write & (status == "active"), _resend_dialog()),
        _write_actions(status),
        spacing="2",
        wrap="wrap",
    )


def _write_actions(status) -> rx.Component:
    return rx.cond(
        CertificateState.can_write,
        rx.hstack(
            rx.cond(status == "pending",
                    rx.button(rx.icon("circle-check", size=16), "Mark as paid", on_click=CertificateState.mark_paid)),
            rx.cond((status == "active") | (status == "pending") | (status == "refunding"), _void_dialog()),
            rx.cond((status == "voided") & (CertificateState.cert["refund"] == ""),
                    rx.button(rx.icon("rotate-ccw", size=16), "Reactivate", on_click=CertificateState.reactivate)),
            spacing="2",
            wrap="wrap",
        ),
    )


def _details() -> rx.Component:
    c = CertificateState.cert
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.text("Code", size="1", color=rx.color("gray", 10), weight="medium"),
                    rx.code(c["code"], size="6", variant="ghost", weight="bold", aria_label="Certificate code"),
                    spacing="1",
                ),
                rx.spacer(),
                rx.vstack(
                    status_badge(c["status"], c["status_label"]),
                    rx.heading(c["amount"], size="6"),
                    align="end",
                    spacing="1",
                ),
                width="100%",
                align="start",
            ),
            rx.separator(),
            rx.grid(
                detail_item("Purchaser", c["purchaser_name"]),
                detail_item("Purchaser email", c["purchaser_email"]),
                detail_item("Recipient", c["recipient"]),
                detail_item("Recipient email", c["recipient_email"]),
                detail_item("Source", c["source"]),
                detail_item("Created", c["created_at"]),
                detail_item("Activated", c["activated_at"]),
                detail_item("Expires", c["expires_at"]),
                detail_item("Redeemed", c["redeemed_at"]),
                detail_item("Voided", c["voided_at"]),
                rx.cond(c["payment"] != "", detail_item("Card payment", c["payment"])),
                rx.cond(c["refund"] != "", detail_item("Refund", c["refund"])),
                columns=rx.breakpoints(initial="1", sm="2", md="3"),
                spacing="4",
                width="100%",
            ),
            rx.cond(c["void_reason"] != "", rx.callout("Void reason: " + c["void_reason"], icon="info",
                                                       color_scheme="red", width="100%")),
            rx.cond(c["message"] != "", detail_item("Personal message", c["message"])),
            rx.text("Times shown in ", c["timezone"], size="1", color=rx.color("gray", 10)),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def _use(use: rx.Var) -> rx.Component:
    order_link = rx.link(use["reference"], href=routes.ORDERS + "/" + use["order_id"], weight="medium")
    return rx.el.li(
        rx.hstack(
            rx.icon("shopping-cart", size=16, color=rx.color("gray", 10)),
            rx.cond(use["status"] == "applied",
                    rx.text("Used on order ", order_link,
                            rx.cond(use["hold"] != "", rx.fragment(" · ", use["hold"])), size="2"),
                    rx.text("Was applied to order ", order_link, " (released ", use["released"], ")", size="2")),
            rx.spacer(),
            rx.text(use["amount"], " · ", use["when"], size="1", color=rx.color("gray", 10)),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        style={"list_style": "none", "padding": "0.25rem 0"},
    )


def _uses() -> rx.Component:
    return rx.cond(
        CertificateState.uses.length() > 0,
        rx.card(
            rx.el.ul(rx.foreach(CertificateState.uses, _use), aria_label="Orders",
                     style={"width": "100%", "padding": "0", "margin": "0"}),
            width="100%",
        ),
    )


def _timeline() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Activity", size="4", as_="h2"),
            rx.el.ol(
                rx.foreach(
                    CertificateState.timeline,
                    lambda e: rx.el.li(
                        rx.hstack(
                            rx.badge(e["kind"], variant="surface", title=e["meaning"]),
                            rx.text(e["details"], size="2"),
                            rx.spacer(),
                            rx.text(e["actor"], " · ", e["when"], size="1", color=rx.color("gray", 10)),
                            width="100%",
                            align="center",
                            wrap="wrap",
                        ),
                        style={"padding": "0.5rem 0", "border_bottom": f"1px solid {rx.color('gray', 4)}",
                               "list_style": "none"},
                    ),
                ),
                aria_label="Activity log",
                style={"width": "100%", "padding": "0", "margin": "0"},
            ),
            width="100%",
        ),
        width="100%",
    )


def certificate_page() -> rx.Component:
    return detail_page(
        "Certificate", back_label="All certificates", back_href=routes.CERTIFICATES,
        loaded=CertificateState.loaded, not_found=CertificateState.not_found,
        not_found_text="This certificate does not exist in your workspace.",
        content=rx.vstack(_details(), _uses(), _timeline(), width="100%", spacing="4"),
        actions=rx.cond(CertificateState.loaded & ~CertificateState.not_found, _actions()),
    )
