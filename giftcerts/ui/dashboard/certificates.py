"""/dashboard/certificates: search, status filter, keyset pagination, masked codes; live (new
sales, redemptions and voids appear without reloading) and exportable as CSV."""

from __future__ import annotations

from urllib.parse import urlencode

import reflex as rx

from giftcerts import db
from giftcerts.core import search
from giftcerts.core.errors import DomainError
from giftcerts.ui.components import present
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.live import LiveRefresh
from giftcerts.ui.components.paging import KeysetPages
from giftcerts.ui.components.elements import STATUS_OPTIONS, empty_state, native_select, pager, status_badge
from giftcerts.ui.components.layout import dashboard_page

PAGE_SIZE = 25
CERTIFICATES_CSV = "/exports/certificates.csv"


class CertificatesState(LiveRefresh, KeysetPages, AuthState):
    query: str = ""
    status: str = "all"
    rows: list[dict[str, str]] = []
    loaded: bool = False
    exporting: bool = False
    export_note: str = ""

    @rx.var
    def filtered(self) -> bool:
        return self.query.strip() != "" or self.status != "all"

    def _load(self):
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        self._remember_marker(principal.workspace_id)
        with db.read_session() as session:
            ws = self._workspace(principal)
            page = search.search_certificates(
                session, workspace_id=principal.workspace_id, query=self.query, status=self.status,
                cursor=self.current_cursor or None, limit=PAGE_SIZE,
            )
        self.rows = [present.certificate_row(cert, ws) for cert in page.items]
        self.next_cursor = page.next_cursor or ""
        self.loaded = True

    async def _live_reload(self):
        async with self:
            self._load()  # the page the user is on, filters kept: one page query

    @rx.event
    def export_csv(self):
        """Download the list as filtered now; the button shows progress until the download starts."""
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        self.exporting, self.export_note = True, "Preparing the export…"
        yield
        with db.read_session() as session:
            total = search.count_certificates(session, workspace_id=principal.workspace_id, query=self.query,
                                              status=self.status)
        query = urlencode({"q": self.query, "status": self.status})
        self.exporting = False
        self.export_note = (f"Downloading {total:,} certificate{'' if total == 1 else 's'} as CSV; "
                            "your browser shows the progress.")
        yield rx.download(url=f"{CERTIFICATES_CSV}?{query}", filename="certificates.csv")

    @rx.event
    def on_load(self):
        params = self.router.url.query_parameters
        self.query = str(params.get("q", ""))[:254]
        status = str(params.get("status", "all"))
        self.status = status if status in dict(STATUS_OPTIONS) else "all"
        return self._first_page()

    @rx.event
    def set_query(self, value: str):
        self.query = str(value)[:254]
        return self._first_page()

    @rx.event
    def set_status(self, value: str):
        self.status = value if value in dict(STATUS_OPTIONS) else "all"
        return self._first_page()


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(rx.code(row["code"], variant="ghost"), href=routes.CERTIFICATES + "/" + row["id"],
                              aria_label="Open certificate " + row["code"]), white_space="nowrap"),
        rx.table.cell(status_badge(row["status"], row["status_label"])),
        rx.table.cell(row["amount"], text_align="right"),
        rx.table.cell(rx.vstack(rx.text(row["recipient"], size="2"),
                                rx.text(row["recipient_email"], size="1", color=rx.color("gray", 10)),
                                spacing="0")),
        rx.table.cell(rx.text(row["purchaser_email"], size="2")),
        rx.table.cell(row["created"]),
        rx.table.cell(row["expires"]),
        style={"cursor": "pointer"},
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[rx.table.column_header_cell(h) for h in
                  ["Code", "Status", "Amount", "Recipient", "Purchaser", "Created", "Expires"]]
            )
        ),
        rx.table.body(rx.foreach(CertificatesState.rows, _row)),
        variant="surface",
        size="2",
        width="100%",
    )


def _filters() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.el.label("Search", html_for="certificate-search", style={"font_weight": "500", "font_size": "14px"}),
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                id="certificate-search",
                placeholder="Code, purchaser or recipient email",
                value=CertificatesState.query,
                on_change=CertificatesState.set_query.debounce(300),
                width="100%",
                type="search",
            ),
            spacing="1",
            flex="1",
            min_width="220px",
        ),
        native_select("Status", "status-filter", STATUS_OPTIONS, value=CertificatesState.status,
                      on_change=CertificatesState.set_status),
        align="end",
        spacing="3",
        width="100%",
        wrap="wrap",
    )


def certificates_page() -> rx.Component:
    return dashboard_page(
        "Certificates",
        _filters(),
        rx.cond(CertificatesState.export_note != "",
                rx.text(CertificatesState.export_note, size="2", color=rx.color("gray", 11), role="status")),
        rx.cond(
            ~CertificatesState.loaded,
            rx.center(rx.spinner(size="3"), padding="3rem", width="100%", aria_label="Loading certificates"),
            rx.cond(
                CertificatesState.rows.length() > 0,
                rx.vstack(rx.el.section(_table(), aria_label="Certificates", style={"width": "100%", "overflow_x": "auto"}),
                          pager(CertificatesState), width="100%"),
                rx.cond(
                    CertificatesState.filtered,
                    empty_state("search-x", "No certificates match",
                                "Try another code or email address, or choose All statuses."),
                    empty_state("gift", "No certificates yet",
                                "Certificates sold on the portal or created here will appear in this list."),
                ),
            ),
        ),
        # Live updates run while this page is mounted.
        rx.box(on_mount=CertificatesState.start_live, on_unmount=CertificatesState.stop_live, display="none"),
        actions=rx.hstack(
            rx.button(rx.cond(CertificatesState.exporting, rx.spinner(size="2"), rx.icon("download", size=16)),
                      rx.cond(CertificatesState.exporting, "Preparing…", "Export CSV"),
                      variant="soft", on_click=CertificatesState.export_csv, disabled=CertificatesState.exporting,
                      aria_busy=rx.cond(CertificatesState.exporting, "true", "false")),
            rx.cond(
                CertificatesState.can_write,
                rx.link(rx.button(rx.icon("plus", size=16), "New certificate"), href=routes.NEW_CERTIFICATE),
            ),
            spacing="2",
        ),
    )
