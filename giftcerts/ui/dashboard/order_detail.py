"""/dashboard/orders/[order_id]: an order's amounts and the certificates applied to it."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.core import redemption
from giftcerts.core.ids import parse_id
from giftcerts.core.errors import DomainError
from giftcerts.ui.components import present
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import detail_item, empty_state
from giftcerts.ui.components.layout import detail_page
from giftcerts.ui.dashboard.orders import order_status_badge


class OrderState(AuthState):
    order: dict[str, str] = {}
    lines: list[dict[str, str]] = []
    timezone: str = ""
    not_found: bool = False
    loaded: bool = False

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
        self.lines = [present.redemption_row(red, cert, ws) for red, cert in lines]
        self.timezone = ws.timezone
        self.not_found = False
        self.loaded = True


def _line(line: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(rx.code(line["code"], variant="ghost"),
                              href=routes.CERTIFICATES + "/" + line["certificate_id"],
                              aria_label="Open certificate " + line["code"]), white_space="nowrap"),
        rx.table.cell(line["amount"], text_align="right"),
        rx.table.cell(rx.badge(line["status_label"], variant="soft",
                               color_scheme=rx.cond(line["status"] == "applied", "blue", "gray"))),
        rx.table.cell(line["when"], white_space="nowrap"),
        rx.table.cell(rx.cond(line["released"] != "", line["released"], "—"), white_space="nowrap"),
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
                columns=rx.breakpoints(initial="1", sm="2", md="4"),
                spacing="4",
                width="100%",
            ),
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
                            rx.table.column_header_cell("Released"),
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


def order_page() -> rx.Component:
    return detail_page(
        "Order", back_label="All orders", back_href=routes.ORDERS,
        loaded=OrderState.loaded, not_found=OrderState.not_found,
        not_found_text="This order does not exist in your workspace.",
        content=rx.vstack(_details(), _redemptions(), width="100%", spacing="4"),
    )
