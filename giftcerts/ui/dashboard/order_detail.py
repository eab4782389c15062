"""/dashboard/orders/[order_id]: an order's amounts, the certificates applied to it (held while
the order is open), and Complete / Cancel for staff."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.clock import wait_phrase
from giftcerts.core import money, orders, redemption
from giftcerts.core.ids import parse_id
from giftcerts.core.errors import DomainError, NotSignedIn, PermissionDenied, RateLimited, ValidationError
from giftcerts.models import Order
from giftcerts.web import throttle
from giftcerts.ui.components import present
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import detail_item, empty_state, field_error
from giftcerts.ui.components.layout import detail_page
from giftcerts.ui.dashboard.orders import order_status_badge


class OrderState(AuthState):
    order: dict[str, str] = {}
    lines: list[dict[str, str]] = []
    timezone: str = ""
    not_found: bool = False
    loaded: bool = False
    errors: dict[str, str] = {}
    desk_error: str = ""
    desk_key: int = 0
    complete_open: bool = False
    cancel_open: bool = False

    def _order_id(self) -> str:
        raw = str(self.router.page.params.get("order_id", ""))
        return raw if parse_id(raw) is not None else ""

    @rx.event
    def on_load(self):
        self.loaded = False
        try:
            principal = self._guard()
        except DomainError as exc:
            self.order, self.lines = {}, []
            return self._refuse(exc)
        self._refresh(principal)

    def _refresh(self, principal) -> None:
        ws = self._workspace(principal)
        with db.read_session() as session:
            try:
                order = redemption.get_order(session, workspace_id=principal.workspace_id,
                                             order_id=self._order_id() or None)
            except DomainError:
                self.order, self.lines, self.not_found, self.loaded = {}, [], True, True
                return
            lines = redemption.order_redemptions(session, order)
        self.order = present.order_row(order, ws)
        self.lines = [present.redemption_row(red, cert, ws, order) for red, cert in lines]
        self.timezone = ws.timezone
        self.not_found = False
        self.loaded = True

    def _act(self, action, success: str):
        """Complete or cancel, as the signed-in staff member of this workspace."""
        try:
            principal = self._guard(write=True)
            ws = self._workspace(principal)
            with db.write_session() as session:
                action(session, ws, principal)
        except ValidationError as exc:
            self.errors = exc.errors
            return
        except DomainError as exc:
            return self._refuse(exc)
        self.errors, self.complete_open, self.cancel_open = {}, False, False
        self._refresh(principal)
        return rx.toast.success(success)

    @rx.event
    def apply_code(self, form: dict):
        """A code read out by the customer (a phone booking), applied through the same path as
        the widget and the API: the same rules, guess budgets, activity entries and hold."""
        self.desk_error = ""
        code = str(form.get("code", ""))[:64]
        if not code.strip():
            self.desk_error = "Enter the code printed on the gift certificate."
            return
        order_id = self._order_id() or 0
        try:
            principal = self._guard(write=True)
            ws = self._workspace(principal)
            scopes = throttle.staff_scopes(member_id=principal.staff_id,
                                           address=self.router.session.client_ip or "unknown")
            with db.write_session() as session, throttle.attempting(scopes, code):
                red = redemption.redeem(session, ws, code=code, order_id=order_id, actor=principal.email)
                amount = money.format_money(red.amount_cents, session.get(Order, red.order_id).currency)
        except RateLimited as exc:
            self.desk_error = f"Too many codes tried. Try again in {wait_phrase(exc.retry_after)}."
            return
        except DomainError as exc:
            if isinstance(exc, (NotSignedIn, PermissionDenied)):
                return self._refuse(exc)
            self.desk_error = exc.message
            return
        self.desk_key += 1
        self._refresh(principal)
        return rx.toast.success(f"Gift certificate applied: {amount}. It is held for this order until it is completed.")

    @rx.event
    def set_complete_open(self, value: bool):
        self.complete_open = bool(value)

    @rx.event
    def set_cancel_open(self, value: bool):
        self.errors = {}
        self.cancel_open = bool(value)

    @rx.event
    def complete(self):
        order_id = self._order_id() or 0
        return self._act(lambda s, ws, p: orders.complete_order(s, ws, order_id=order_id, actor=p.email),
                         "Order completed: its certificates are spent for good.")

    @rx.event
    def cancel(self, form: dict):
        order_id = self._order_id() or 0
        reason = str(form.get("reason", ""))[:600]
        return self._act(lambda s, ws, p: orders.cancel_order(s, ws, order_id=order_id, reason=reason,
                                                               actor=p.email),
                         "Order cancelled: its certificates were released.")


def _line(line: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(rx.code(line["code"], variant="ghost"),
                              href=routes.CERTIFICATES + "/" + line["certificate_id"],
                              aria_label="Open certificate " + line["code"]), white_space="nowrap"),
        rx.table.cell(line["amount"], text_align="right"),
        rx.table.cell(rx.badge(line["status_label"], variant="soft",
                               color_scheme=rx.cond(line["status"] == "applied", "blue", "gray"))),
        rx.table.cell(line["when"], white_space="nowrap"),
        rx.table.cell(rx.cond(line["released"] != "", line["released"], line["hold"])),
    )


def _details() -> rx.Component:
    o = OrderState.order
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(rx.text("Booking reference", size="1", color=rx.color("gray", 10), weight="medium"),
                          rx.heading(o["reference"], size="6", as_="h2"), spacing="1"),
                rx.spacer(),
                order_status_badge(o["status"], o["status_label"]),
                width="100%",
                align="start",
            ),
            rx.separator(size="4"),
            rx.grid(
                detail_item("Total", o["total"]),
                detail_item("Amount due", o["amount_due"]),
                detail_item("Customer email", o["customer_email"]),
                detail_item("Created", o["created"]),
                rx.cond(o["status"] == "completed", detail_item("Completed", o["closed"])),
                rx.cond(o["status"] == "cancelled", detail_item("Cancelled", o["closed"])),
                rx.cond(o["cancel_reason"] != "", detail_item("Reason", o["cancel_reason"])),
                columns=rx.breakpoints(initial="1", sm="2", md="4"),
                spacing="4",
                width="100%",
            ),
            _actions(),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def _redemptions() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Gift certificates applied", size="4", as_="h2"),
            rx.cond(
                OrderState.lines.length() > 0,
                rx.el.section(
                    rx.table.root(
                        rx.table.header(rx.table.row(
                            rx.table.column_header_cell("Certificate"),
                            rx.table.column_header_cell("Amount", text_align="right"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Applied"),
                            rx.table.column_header_cell("Hold / released"),
                        )),
                        rx.table.body(rx.foreach(OrderState.lines, _line)),
                        variant="ghost",
                        size="2",
                        width="100%",
                    ),
                    aria_label="Redemptions",
                    style={"width": "100%", "overflow_x": "auto"},
                ),
                empty_state("gift", "No certificates on this order", "None has been applied yet."),
            ),
            rx.text("Times shown in ", OrderState.timezone, size="1", color=rx.color("gray", 10)),
            width="100%",
        ),
        width="100%",
    )


def _complete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(rx.icon("circle-check", size=16), "Complete order", color_scheme="green")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Complete this order?"),
            rx.alert_dialog.description(
                "Do this when the booking is confirmed and paid. The certificates applied to it are spent for "
                "good, and no more can be applied to the order.", size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep open", variant="soft", color_scheme="gray")),
                rx.button("Complete order", color_scheme="green", on_click=OrderState.complete),
                justify="end", spacing="3", width="100%", padding_top="1rem",
            ),
            max_width="460px",
        ),
        open=OrderState.complete_open,
        on_open_change=OrderState.set_complete_open,
    )


def _cancel_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(rx.icon("circle-x", size=16), "Cancel order", color_scheme="red",
                                          variant="soft")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Cancel this order?"),
            rx.alert_dialog.description(
                "The booking did not happen: every certificate applied to it is released and can be used again "
                "(or is Expired, if its date has passed).", size="2"),
            rx.form(
                rx.vstack(
                    rx.el.label("Reason (optional)", html_for="cancel-reason",
                                style={"font_weight": "500", "font_size": "14px"}),
                    rx.text_area(id="cancel-reason", name="reason", placeholder="e.g. The guest cancelled the tour",
                                 max_length=500, width="100%", aria_describedby="reason-error"),
                    field_error(OrderState.errors, "reason"),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button("Keep order", variant="soft", color_scheme="gray",
                                                         type="button")),
                        rx.button("Cancel order", color_scheme="red", type="submit"),
                        justify="end", spacing="3", width="100%",
                    ),
                    spacing="2", width="100%", padding_top="1rem",
                ),
                on_submit=OrderState.cancel,
                reset_on_submit=False,
                no_validate=True,
            ),
            max_width="460px",
        ),
        open=OrderState.cancel_open,
        on_open_change=OrderState.set_cancel_open,
    )


def _desk() -> rx.Component:
    return rx.cond(
        OrderState.can_write & (OrderState.order["status"] == "open"),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Apply a gift certificate", size="4", as_="h2"),
                    rx.el.label("Gift certificate code", html_for="desk-code",
                                style={"font_weight": "500", "font_size": "14px"}),
                    rx.hstack(
                        rx.input(id="desk-code", name="code", placeholder="XXXX-XXXX-XXXX", auto_complete="off",
                                 spell_check=False, flex="1", min_width="0", aria_describedby="desk-code-error",
                                 aria_invalid=rx.cond(OrderState.desk_error != "", "true", "false")),
                        rx.button("Apply", type="submit"),
                        width="100%", spacing="2",
                    ),
                    rx.cond(OrderState.desk_error != "",
                            rx.text(OrderState.desk_error, id="desk-code-error", role="alert", size="2",
                                    color=rx.color("red", 11))),
                    rx.text("For a booking taken by phone: the code the customer reads out is checked by the same "
                            "rules as at checkout, and held for this order until it is completed.", size="1",
                            color=rx.color("gray", 11)),
                    spacing="2", width="100%",
                ),
                on_submit=OrderState.apply_code,
                reset_on_submit=False,
                no_validate=True,
                key=OrderState.desk_key,
            ),
            width="100%",
        ),
    )


def _actions() -> rx.Component:
    status = OrderState.order["status"]
    return rx.cond(
        OrderState.can_write & (status != "cancelled"),
        rx.hstack(rx.cond(status == "open", _complete_dialog()), _cancel_dialog(), spacing="3", wrap="wrap"),
    )


def order_page() -> rx.Component:
    return detail_page(
        "Order", back_label="All orders", back_href=routes.ORDERS,
        loaded=OrderState.loaded, not_found=OrderState.not_found,
        not_found_text="This order does not exist in your workspace.",
        content=rx.vstack(_details(), _desk(), _redemptions(), width="100%", spacing="4"),
    )
