"""/dashboard/orders: bookings that certificates were applied to, newest first, keyset pages,
filtered by status (open bookings hold their certificates until completed or cancelled)."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.core import redemption
from giftcerts.core.errors import DomainError
from giftcerts.ui.components import present
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.paging import KeysetPages
from giftcerts.ui.components.elements import empty_state, pager
from giftcerts.ui.components.layout import dashboard_page

PAGE_SIZE = 25
ORDER_STATUS_COLORS = {"open": "amber", "completed": "green", "cancelled": "gray"}
STATUS_FILTERS = [("all", "All orders"), ("open", "Open"), ("completed", "Completed"), ("cancelled", "Cancelled")]


def order_status_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        *[(value, rx.badge(label, color_scheme=color, variant="soft", size="2"))
          for value, color in ORDER_STATUS_COLORS.items()],
        rx.badge(label, variant="soft"),
    )


class OrdersState(KeysetPages, AuthState):
    query: str = ""
    status: str = "all"
    rows: list[dict[str, str]] = []
    loaded: bool = False

    def _load(self):
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        ws = self._workspace(principal)
        with db.read_session() as session:
            orders, next_cursor = redemption.list_orders(
                session, workspace_id=principal.workspace_id, cursor=self.current_cursor or None,
                limit=PAGE_SIZE, query=self.query, status=None if self.status == "all" else self.status)
        self.rows = [present.order_row(order, ws) for order in orders]
        self.next_cursor = next_cursor or ""
        self.loaded = True

    @rx.event
    def on_load(self):
        self.query = str(self.router.url.query_parameters.get("q", ""))[:254]
        status = str(self.router.url.query_parameters.get("status", "all"))
        self.status = status if status in dict(STATUS_FILTERS) else "all"
        return self._first_page()

    @rx.event
    def set_status(self, value: str):
        self.status = value if value in dict(STATUS_FILTERS) else "all"
        return self._first_page()

    @rx.event
    def set_query(self, value: str):
        self.query = str(value)[:254]
        return self._first_page()


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row["reference"], href=routes.ORDERS + "/" + row["id"], weight="medium",
                              aria_label="Open order " + row["reference"]), white_space="nowrap"),
        rx.table.cell(row["customer_email"]),
        rx.table.cell(row["total"], text_align="right"),
        rx.table.cell(row["amount_due"], text_align="right"),
        rx.table.cell(order_status_badge(row["status"], row["status_label"])),
        rx.table.cell(row["created"], white_space="nowrap"),
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(
            *[rx.table.column_header_cell(h) for h in ["Reference", "Customer email"]],
            rx.table.column_header_cell("Total", text_align="right"),
            rx.table.column_header_cell("Amount due", text_align="right"),
            *[rx.table.column_header_cell(h) for h in ["Status", "Created"]],
        )),
        rx.table.body(rx.foreach(OrdersState.rows, _row)),
        variant="surface",
        size="2",
        width="100%",
    )


def _search() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.el.label("Search", html_for="order-search", style={"font_weight": "500", "font_size": "14px"}),
            rx.input(rx.input.slot(rx.icon("search", size=14)), id="order-search", type="search",
                     placeholder="Exact booking reference or customer email", value=OrdersState.query,
                     on_change=OrdersState.set_query.debounce(300), width="100%"),
            spacing="1",
            width="100%",
            max_width="480px",
        ),
        rx.vstack(
            rx.el.label("Status", html_for="order-status", style={"font_weight": "500", "font_size": "14px"}),
            rx.select.root(
                rx.select.trigger(id="order-status", aria_label="Filter orders by status"),
                rx.select.content(*[rx.select.item(label, value=value) for value, label in STATUS_FILTERS]),
                value=OrdersState.status,
                on_change=OrdersState.set_status,
            ),
            spacing="1",
        ),
        gap="1rem",
        wrap="wrap",
        width="100%",
        align="end",
    )


def orders_page() -> rx.Component:
    return dashboard_page(
        "Orders",
        rx.text("Bookings on your booking platform that gift certificates were applied to.", size="2",
                color=rx.color("gray", 11)),
        _search(),
        rx.cond(
            ~OrdersState.loaded,
            rx.center(rx.spinner(size="3"), padding="3rem", width="100%", aria_label="Loading orders"),
            rx.cond(
                OrdersState.rows.length() > 0,
                rx.vstack(rx.el.section(_table(), aria_label="Orders", style={"width": "100%", "overflow_x": "auto"}),
                          pager(OrdersState), width="100%"),
                rx.cond(
                    (OrdersState.query != "") | (OrdersState.status != "all"),
                    empty_state("search-x", "No orders match",
                                "Search by the exact booking reference or the customer's email address, "
                                "or choose another status."),
                    empty_state("shopping-cart", "No orders yet",
                                "Orders appear here when your booking platform opens a checkout through the API "
                                "or the redemption widget."),
                ),
            ),
        ),
    )
