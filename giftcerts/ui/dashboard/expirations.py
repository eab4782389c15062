"""/dashboard/expirations: certificates expiring in the next 30/60/90 days, their total value,
and "Notify" for one, a selection or all of them (the workspace's "expiring soon" actions)."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.clock import days_until, format_date, utcnow
from giftcerts.core import expiry, money, workspaces
from giftcerts.core.codes import mask_code
from giftcerts.core.errors import DomainError
from giftcerts.core.ids import parse_id
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import empty_state, native_select
from giftcerts.ui.components.layout import dashboard_page

WINDOWS = [("30", "Next 30 days"), ("60", "Next 60 days"), ("90", "Next 90 days")]
SHOWN = 200


class ExpirationsState(AuthState):
    window: str = "30"
    rows: list[dict[str, str]] = []
    count: int = 0
    total: str = ""
    timezone: str = ""
    selected: list[str] = []
    loaded: bool = False
    notify_all_open: bool = False

    def _load(self, principal) -> None:
        ws = self._workspace(principal)
        now = utcnow()
        with db.read_session() as session:
            certs, count, total = expiry.upcoming(session, workspace_id=ws.id, days=int(self.window), now=now,
                                                  limit=SHOWN)
        self.rows = [{
            "id": str(c.id), "code": mask_code(c.code), "recipient": c.recipient_name,
            "recipient_email": c.recipient_email, "amount": money.format_money(c.amount_cents, c.currency),
            "expires": format_date(c.expires_at, ws.timezone),
            "days_left": str(days_until(c.expires_at, ws.timezone, now)),
        } for c in certs]
        self.count, self.total, self.timezone = count, money.format_money(total, ws.currency), ws.timezone
        visible = {r["id"] for r in self.rows}
        self.selected = [i for i in self.selected if i in visible]
        self.loaded = True

    def _reset(self) -> None:
        self.rows, self.count, self.total, self.selected = [], 0, "", []

    @rx.event
    def on_load(self):
        self.selected, self.notify_all_open = [], False
        try:
            principal = self._guard()
        except DomainError as exc:
            self._reset()
            return self._refuse(exc)
        self._load(principal)

    @rx.event
    def set_window(self, value: str):
        self.window = value if value in dict(WINDOWS) else "30"
        self.selected = []
        try:
            principal = self._guard()
        except DomainError as exc:
            self._reset()
            return self._refuse(exc)
        self._load(principal)

    @rx.event
    def toggle(self, cert_id: str, checked: bool):
        cert_id = str(cert_id)
        if checked and cert_id not in self.selected and any(r["id"] == cert_id for r in self.rows):
            self.selected = [*self.selected, cert_id]
        elif not checked:
            self.selected = [i for i in self.selected if i != cert_id]

    @rx.event
    def toggle_all(self, checked: bool):
        self.selected = [r["id"] for r in self.rows] if checked else []

    def _notify(self, ids: list[int] | None):
        try:
            principal = self._guard(write=True)
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                if ids is None:
                    ids = expiry.upcoming_ids(session, workspace_id=ws.id, days=int(self.window))
                queued = expiry.notify_expiring(session, ws, certificate_ids=ids, actor=principal.email)
        except DomainError as exc:
            return self._refuse(exc)
        self.selected = []
        self._load(principal)
        if not queued:
            return rx.toast.info("Nothing to send: these certificates are no longer active.")
        return rx.toast.success(f"Reminder queued for {queued} certificate{'s' if queued != 1 else ''}.")

    @rx.event
    def notify_one(self, cert_id: str):
        cid = parse_id(cert_id)
        return self._notify([cid] if cid else [])

    @rx.event
    def notify_selected(self):
        return self._notify([i for i in (parse_id(x) for x in self.selected) if i])

    @rx.event
    def set_notify_all_open(self, value: bool):
        self.notify_all_open = bool(value)

    @rx.event
    def notify_all(self):
        self.notify_all_open = False
        return self._notify(None)


def _row(row: rx.Var) -> rx.Component:
    s = ExpirationsState
    return rx.table.row(
        rx.table.cell(rx.el.input(type="checkbox", checked=s.selected.contains(row["id"]),
                                  on_change=lambda v: s.toggle(row["id"], v),
                                  aria_label="Select " + row["code"] + " for " + row["recipient"])),
        rx.table.cell(rx.link(rx.code(row["code"], variant="ghost"), href=routes.CERTIFICATES + "/" + row["id"]),
                      white_space="nowrap"),
        rx.table.cell(rx.vstack(rx.text(row["recipient"], size="2"),
                                rx.text(row["recipient_email"], size="1", color=rx.color("gray", 10)), spacing="0")),
        rx.table.cell(row["amount"], white_space="nowrap"),
        rx.table.cell(row["expires"], white_space="nowrap"),
        rx.table.cell(row["days_left"]),
        rx.table.cell(rx.cond(s.can_write, rx.button(
            "Notify", size="1", variant="soft", on_click=s.notify_one(row["id"]),
            aria_label="Notify " + row["recipient"] + " (" + row["code"] + ")"))),
    )


def _notify_all_dialog() -> rx.Component:
    s = ExpirationsState
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(rx.icon("send", size=16), "Notify all", disabled=s.count == 0)),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Notify all holders?"),
            rx.alert_dialog.description(
                rx.text("A reminder email goes to the ", s.count, " certificates expiring in the next ", s.window,
                        " days, using your “Certificate expiring soon” actions.", size="2")),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Send reminders", on_click=s.notify_all)),
                justify="end", spacing="3", padding_top="1rem",
            ),
            max_width="460px",
        ),
        open=s.notify_all_open,
        on_open_change=s.set_notify_all_open,
    )


def expirations_page() -> rx.Component:
    s = ExpirationsState
    return dashboard_page(
        "Upcoming expirations",
        rx.hstack(
            native_select("Expiring within", "window", WINDOWS, value=s.window, on_change=s.set_window),
            rx.spacer(),
            rx.cond(s.can_write, rx.hstack(
                rx.button("Notify selected", variant="soft", on_click=s.notify_selected,
                          disabled=s.selected.length() == 0),
                _notify_all_dialog(), spacing="2")),
            align="end", width="100%", wrap="wrap",
        ),
        rx.cond(
            ~s.loaded,
            rx.center(rx.spinner(size="3"), padding="3rem", width="100%"),
            rx.cond(
                s.count == 0,
                empty_state("calendar-check", "Nothing expires soon",
                            "No active certificate expires in this period."),
                rx.vstack(
                    rx.hstack(
                        rx.card(rx.vstack(rx.text("Certificates", size="1", color=rx.color("gray", 10)),
                                          rx.heading(s.count, size="6", aria_label="Expiring certificates"),
                                          spacing="1")),
                        rx.card(rx.vstack(rx.text("Total value", size="1", color=rx.color("gray", 10)),
                                          rx.heading(s.total, size="6", aria_label="Total value"), spacing="1")),
                        spacing="3",
                    ),
                    rx.el.section(
                        rx.table.root(
                            rx.table.header(rx.table.row(
                                rx.table.column_header_cell(rx.el.input(
                                    type="checkbox", aria_label="Select all",
                                    checked=(s.selected.length() == s.rows.length()) & (s.rows.length() > 0),
                                    on_change=s.toggle_all)),
                                rx.table.column_header_cell("Code"), rx.table.column_header_cell("Recipient"),
                                rx.table.column_header_cell("Amount"), rx.table.column_header_cell("Expires"),
                                rx.table.column_header_cell("Days left"), rx.table.column_header_cell(""),
                            )),
                            rx.table.body(rx.foreach(s.rows, _row)),
                            width="100%", variant="surface",
                        ),
                        aria_label="Upcoming expirations",
                        style={"width": "100%", "overflow_x": "auto"},
                    ),
                    rx.cond(s.count > s.rows.length(),
                            rx.text("Showing the ", s.rows.length(), " soonest of ", s.count,
                                    ". “Notify all” includes every one.", size="2", color=rx.color("gray", 10))),
                    rx.text("Dates in ", s.timezone, size="1", color=rx.color("gray", 10)),
                    spacing="3", width="100%",
                ),
            ),
        ),
    )
