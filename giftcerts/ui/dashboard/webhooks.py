"""/dashboard/settings/webhooks: endpoints on the booking platform's server that hear of every
change, signed. Everyone signed in may see them and their delivery log; only an owner adds,
enables or disables one, or resends a delivery. A new endpoint's signing secret is shown once."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from giftcerts import db
from giftcerts.clock import format_local
from giftcerts.core import outbox, webhooks
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import empty_state, field_error, text_field
from giftcerts.ui.components.layout import dashboard_page

DELIVERY_STATUS_COLORS = {"delivered": "green", "pending": "amber", "failed": "red"}


def _endpoint_row(endpoint) -> dict[str, str]:
    return {"id": str(endpoint.id), "url": endpoint.url, "description": endpoint.description or "—",
            "events": ", ".join(endpoint.events.split()), "enabled": "yes" if endpoint.enabled else ""}


def _delivery_row(delivery, tz: str) -> dict[str, str]:
    return {"id": str(delivery.id), "event_id": delivery.event_id, "type": delivery.event_type,
            "status": delivery.status, "status_label": delivery.status.capitalize(),
            "response": str(delivery.response_status) if delivery.response_status is not None else "—",
            "duration": f"{delivery.duration_ms} ms" if delivery.duration_ms is not None else "—",
            "attempts": str(delivery.attempts), "error": delivery.error,
            "when": format_local(delivery.last_attempt_at or delivery.created_at, tz)}


class WebhooksState(AuthState):
    endpoints: list[dict[str, str]] = []
    deliveries: list[dict[str, str]] = []
    selected: str = ""  # the endpoint whose delivery log is shown
    loaded: bool = False
    errors: dict[str, str] = {}
    form_key: int = 0
    created_secret: str = ""
    secret_open: bool = False
    one_view_secrets: ClassVar[tuple[str, ...]] = ("created_secret", "secret_open")
    one_view_route: ClassVar[str] = routes.WEBHOOKS

    @rx.var
    def event_choices(self) -> list[list[str]]:
        return [[name, summary] for name, summary in webhooks.EVENTS.items()]

    def _load(self, principal) -> None:
        ws = self._workspace(principal)
        with db.read_session() as session:
            endpoints = webhooks.list_endpoints(session, workspace_id=principal.workspace_id)
            self.endpoints = [_endpoint_row(e) for e in endpoints]
            if self.selected not in {row["id"] for row in self.endpoints}:
                self.selected = self.endpoints[0]["id"] if self.endpoints else ""
            self.deliveries = [] if not self.selected else [
                _delivery_row(d, ws.timezone) for d in
                webhooks.deliveries(session, workspace_id=principal.workspace_id, endpoint_id=self.selected)]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.errors, self.created_secret, self.secret_open = {}, "", False
        try:
            principal = self._guard()
        except DomainError as exc:
            self.endpoints, self.deliveries = [], []
            return self._refuse(exc)
        self._load(principal)

    @rx.event
    def create(self, form: dict):
        events = [name for name in webhooks.EVENTS if form.get(f"event-{name}") in ("on", "true", True)]
        try:
            principal = self._guard(owner=True)
            with db.write_session() as session:
                endpoint, secret = webhooks.create_endpoint(
                    session, workspace_id=principal.workspace_id, url=str(form.get("url", ""))[:2100],
                    events=events, description=str(form.get("description", ""))[:300])
                endpoint_id = str(endpoint.id)
        except ValidationError as exc:
            self.errors = exc.errors
            return
        except DomainError as exc:
            return self._refuse(exc)
        self.errors = {}
        self.form_key += 1
        self.selected = endpoint_id
        self.created_secret, self.secret_open = secret, True
        self._load(principal)

    @rx.event
    def set_secret_open(self, value: bool):
        """Closing the dialog forgets the secret for good."""
        if not value:
            self.created_secret, self.secret_open = "", False

    @rx.event
    def select(self, endpoint_id: str):
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        self.selected = str(endpoint_id)
        self._load(principal)

    @rx.event
    def toggle(self, endpoint_id: str, enabled: bool):
        try:
            principal = self._guard(owner=True)
            with db.write_session() as session:
                webhooks.set_enabled(session, workspace_id=principal.workspace_id, endpoint_id=endpoint_id,
                                     enabled=enabled)
        except DomainError as exc:
            return self._refuse(exc)
        self._load(principal)
        return rx.toast.success("Endpoint enabled." if enabled else "Endpoint disabled: nothing is sent to it.")

    @rx.event
    def resend(self, delivery_id: str):
        try:
            principal = self._guard(owner=True)
            with db.write_session() as session:
                outbox.resend_webhook(session, workspace_id=principal.workspace_id, delivery_id=delivery_id)
        except DomainError as exc:
            return self._refuse(exc)
        self._load(principal)
        return rx.toast.success("The event will be sent again in a moment.")


def _create_form() -> rx.Component:
    s = WebhooksState
    return rx.cond(
        s.is_owner,
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Add an endpoint", size="4", as_="h2"),
                    text_field("Endpoint URL", "url", s.errors, placeholder="https://booking.example.com/hooks/giftcerts",
                               auto_complete="off", type="url"),
                    text_field("Description (optional)", "description", s.errors, max_length=200,
                               placeholder="e.g. Production booking server"),
                    rx.el.fieldset(
                        rx.el.legend("Events to send", style={"font_weight": "500", "font_size": "14px"}),
                        rx.grid(
                            rx.foreach(s.event_choices, lambda e: rx.el.label(
                                rx.checkbox(name="event-" + e[0], default_checked=True,
                                            aria_label="Send " + e[0] + ": " + e[1]),
                                rx.code(e[0], variant="ghost"),
                                rx.text(e[1], size="1", color=rx.color("gray", 11)),
                                style={"display": "flex", "gap": "0.5rem", "align_items": "center",
                                       "flex_wrap": "wrap"})),
                            columns=rx.breakpoints(initial="1", md="2"), spacing="2", width="100%"),
                        aria_describedby="events-error",
                        style={"border": "none", "padding": "0", "margin": "0", "width": "100%"},
                    ),
                    field_error(s.errors, "events"),
                    rx.hstack(rx.button(rx.icon("webhook", size=16), "Add endpoint", type="submit"), justify="end",
                              width="100%"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=s.create,
                reset_on_submit=False,
                no_validate=True,
                key=s.form_key,
            ),
            width="100%",
        ),
        rx.callout("Only an owner of this workspace can add or change webhook endpoints.", icon="lock", width="100%"),
    )


def _secret_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Signing secret"),
            rx.dialog.description(
                "Store it on your server and verify each event's GiftCerts-Signature header with it (see the API "
                "docs). It is not shown again.", size="2"),
            rx.vstack(
                rx.code(WebhooksState.created_secret, aria_label="Signing secret", size="3", variant="soft",
                        style={"overflow_wrap": "anywhere", "padding": "0.5rem", "width": "100%"}),
                rx.hstack(
                    rx.button(rx.icon("copy", size=16), "Copy", variant="soft", type="button",
                              on_click=[rx.set_clipboard(WebhooksState.created_secret),
                                        rx.toast.success("Secret copied.")]),
                    rx.dialog.close(rx.button("Done", type="button")),
                    justify="end", spacing="3", width="100%",
                ),
                spacing="4", padding_top="1rem", width="100%",
            ),
            max_width="520px",
        ),
        open=WebhooksState.secret_open,
        on_open_change=WebhooksState.set_secret_open,
    )


def _endpoint(row: rx.Var) -> rx.Component:
    enabled = row["enabled"] == "yes"
    return rx.table.row(
        rx.table.cell(rx.button(row["url"], variant="ghost", size="1", on_click=WebhooksState.select(row["id"]),
                                aria_label="Show deliveries to " + row["url"],
                                style={"overflow_wrap": "anywhere", "text_align": "left", "height": "auto"})),
        rx.table.cell(row["description"]),
        rx.table.cell(rx.text(row["events"], size="1")),
        rx.table.cell(rx.cond(
            WebhooksState.is_owner,
            rx.switch(checked=enabled, on_change=lambda value: WebhooksState.toggle(row["id"], value),
                      aria_label="Send events to " + row["url"]),
            rx.badge(rx.cond(enabled, "Enabled", "Disabled"), variant="soft",
                     color_scheme=rx.cond(enabled, "green", "gray")),
        )),
    )


def _delivery(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row["type"], variant="ghost"), white_space="nowrap"),
        rx.table.cell(rx.match(row["status"],
                               *[(v, rx.badge(row["status_label"], color_scheme=c, variant="soft"))
                                 for v, c in DELIVERY_STATUS_COLORS.items()],
                               rx.badge(row["status_label"], variant="soft"))),
        rx.table.cell(row["response"]),
        rx.table.cell(row["duration"], white_space="nowrap"),
        rx.table.cell(row["attempts"]),
        rx.table.cell(row["when"], white_space="nowrap"),
        rx.table.cell(rx.text(row["error"], size="1", color=rx.color("gray", 11))),
        rx.table.cell(rx.cond(WebhooksState.is_owner,
                              rx.button("Resend", size="1", variant="soft", on_click=WebhooksState.resend(row["id"]),
                                        aria_label="Resend " + row["type"] + " event " + row["event_id"]))),
    )


def _table(label: str, headers: list[str], rows, render) -> rx.Component:
    return rx.el.section(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, render)),
            variant="surface", size="2", width="100%",
        ),
        aria_label=label,
        tab_index=0,
        style={"width": "100%", "overflow_x": "auto"},
    )


def webhooks_page() -> rx.Component:
    s = WebhooksState
    return dashboard_page(
        "Webhooks",
        rx.link(rx.hstack(rx.icon("arrow-left", size=14), rx.text("Settings", size="2"), align="center"),
                href=routes.SETTINGS),
        rx.text("Your booking platform's server hears of every change it subscribes to — redemptions, holds, "
                "completed and cancelled orders, voids, expiries — as signed JSON POSTs, retried for a day "
                "until it answers 2xx. Events may arrive twice or out of order; each has a stable id.",
                size="2", color=rx.color("gray", 11)),
        rx.cond(
            s.loaded,
            rx.vstack(
                _create_form(),
                rx.cond(
                    s.endpoints.length() > 0,
                    rx.vstack(
                        _table("Webhook endpoints", ["URL", "Description", "Events", "Sending"], s.endpoints, _endpoint),
                        rx.heading("Delivery log", size="4", as_="h2"),
                        rx.cond(s.deliveries.length() > 0,
                                _table("Deliveries", ["Event", "Status", "Response", "Time taken", "Attempts", "Last try",
                                                      "Error", ""], s.deliveries, _delivery),
                                empty_state("send", "Nothing sent yet",
                                            "Events appear here as they are delivered to the selected endpoint.")),
                        spacing="3", width="100%",
                    ),
                    empty_state("webhook", "No endpoints yet",
                                "Add your booking platform's URL to hear of redemptions and orders as they happen."),
                ),
                _secret_dialog(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="3rem", width="100%", aria_label="Loading webhooks"),
        ),
    )
