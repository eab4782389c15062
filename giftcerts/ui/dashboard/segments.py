"""/dashboard/segments: customer groups (by email address or domain) and markets (by code).

Everyone signed in may look; only owners change segments."""

from __future__ import annotations

import reflex as rx

from giftcerts import config, db
from giftcerts.core import segments
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.models import SegmentKind
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import data_table, empty_state, loading, native_select, text_field, textarea_field
from giftcerts.ui.components.layout import dashboard_page

KINDS = [(SegmentKind.CUSTOMER_GROUP.value, "Customer group"), (SegmentKind.MARKET.value, "Market")]
EMPTY_FORM = {"name": "", "kind": SegmentKind.CUSTOMER_GROUP.value, "market_code": "", "members": ""}


class SegmentsState(AuthState):
    rows: list[dict[str, str]] = []
    form_open: bool = False
    editing: str = ""
    form: dict[str, str] = dict(EMPTY_FORM)
    kind: str = SegmentKind.CUSTOMER_GROUP.value
    errors: dict[str, str] = {}
    form_key: int = 0
    loaded: bool = False
    delete_id: str = ""
    delete_text: str = ""

    def _refresh(self, principal) -> None:
        ws = self._workspace(principal)
        portal = config.public_url() + routes.portal(ws.slug)
        with db.read_session() as session:
            self.rows = []
            for seg in segments.list_segments(session, ws.id):
                entries = segments.members(session, seg)
                used = [t.name for t in segments.types_restricted_by(session, seg)]
                is_market = seg.kind == SegmentKind.MARKET.value
                self.rows.append({
                    "id": str(seg.id), "name": seg.name,
                    "kind": "Market" if is_market else "Customer group",
                    "who": (f"Visitors with market {seg.market_code}: {portal}?market={seg.market_code}" if is_market
                            else f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: "
                                 + ", ".join(m.value for m in entries[:5]) + (" …" if len(entries) > 5 else "")),
                    "types": ", ".join(used) or "—",
                })

    @rx.event
    def on_load(self):
        self.errors, self.form_open, self.delete_id = {}, False, ""
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        self._refresh(principal)
        self.loaded = True

    @rx.event
    def new_segment(self):
        try:
            self._guard(owner=True)
        except DomainError as exc:
            return self._refuse(exc)
        self.editing, self.form, self.kind, self.errors = "", dict(EMPTY_FORM), EMPTY_FORM["kind"], {}
        self.form_open = True
        self.form_key += 1

    @rx.event
    def edit(self, segment_id: str):
        try:
            principal = self._guard(owner=True)
            with db.read_session() as session:
                seg = segments.get_segment(session, principal.workspace_id, str(segment_id)[:12])
                text = segments.members_text(session, seg)
        except DomainError as exc:
            return self._refuse(exc)
        self.form = {"name": seg.name, "kind": seg.kind, "market_code": seg.market_code or "", "members": text}
        self.kind, self.editing, self.errors, self.form_open = seg.kind, str(seg.id), {}, True
        self.form_key += 1

    @rx.event
    def choose_kind(self, value: str):
        self.kind = SegmentKind.MARKET.value if value == SegmentKind.MARKET.value else SegmentKind.CUSTOMER_GROUP.value

    @rx.event
    def close_form(self):
        self.form_open, self.errors = False, {}

    @rx.event
    def save(self, form: dict):
        try:
            principal = self._guard(owner=True)
            ws = self._workspace(principal)
            with db.write_session() as session:
                segments.save_segment(session, ws, segment_id=self.editing or None,
                                      name=str(form.get("name", ""))[:500], kind=str(form.get("kind", ""))[:20],
                                      market_code=str(form.get("market_code", ""))[:20],
                                      members_text=str(form.get("members", ""))[:300_000])
        except ValidationError as exc:
            self.errors = exc.errors
            return rx.toast.error("Not saved: please correct the highlighted fields.")
        except DomainError as exc:
            return self._refuse(exc)
        self.form_open, self.errors = False, {}
        self._refresh(principal)
        return rx.toast.success("Segment saved.")

    @rx.event
    def ask_delete(self, segment_id: str):
        try:
            principal = self._guard(owner=True)
            with db.read_session() as session:
                seg = segments.get_segment(session, principal.workspace_id, str(segment_id)[:12])
                used = [t.name for t in segments.types_restricted_by(session, seg)]
        except DomainError as exc:
            return self._refuse(exc)
        self.delete_id = str(seg.id)
        self.delete_text = (f"“{seg.name}” will be removed. " + (
            f"It restricts {', '.join(used)}: a type left without segments is open to everyone." if used else
            "No certificate type uses it."))

    @rx.event
    def cancel_delete(self, _open: bool = False):
        self.delete_id = ""

    @rx.event
    def delete(self):
        try:
            principal = self._guard(owner=True)
            ws = self._workspace(principal)
            with db.write_session() as session:
                segments.delete_segment(session, ws, segment_id=self.delete_id)
        except DomainError as exc:
            self.delete_id = ""
            return self._refuse(exc)
        self.delete_id = ""
        self._refresh(principal)
        return rx.toast.success("Segment deleted.")


def _row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r["name"], weight="medium", size="2")),
        rx.table.cell(rx.badge(r["kind"], variant="soft")),
        rx.table.cell(rx.text(r["who"], size="2", style={"overflow_wrap": "anywhere"})),
        rx.table.cell(r["types"]),
        rx.table.cell(rx.cond(SegmentsState.is_owner, rx.hstack(
            rx.button("Edit", size="1", variant="soft", aria_label="Edit " + r["name"],
                      on_click=SegmentsState.edit(r["id"])),
            rx.button("Delete", size="1", variant="soft", color_scheme="red", aria_label="Delete " + r["name"],
                      on_click=SegmentsState.ask_delete(r["id"])),
            spacing="2"))),
    )


def _form() -> rx.Component:
    s, errors, f = SegmentsState, SegmentsState.errors, SegmentsState.form
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(s.editing == "", "New segment", "Edit segment"), size="4", as_="h2"),
                text_field("Name", "name", errors, default_value=f["name"]),
                native_select("Kind", "segment-kind", KINDS, name="kind", value=s.kind, on_change=s.choose_kind),
                rx.cond(
                    s.kind == SegmentKind.MARKET.value,
                    text_field("Market code", "market_code", errors, placeholder="US", default_value=f["market_code"],
                               hint="Visitors arrive with the portal link ending ?market=CODE, or pick the market."),
                    rx.vstack(
                        textarea_field("Members", "members", errors, max_length=300_000,
                                       placeholder="ana@example.com\ncorp-travel.com", default_value=f["members"]),
                        rx.text("One email address or email domain per line. A domain includes its subdomains.",
                                size="1", color=rx.color("gray", 10)),
                        width="100%", spacing="1",
                    ),
                ),
                rx.hstack(
                    rx.button("Cancel", type="button", variant="soft", color_scheme="gray",
                              on_click=SegmentsState.close_form),
                    rx.button("Save segment", type="submit"),
                    justify="end", width="100%", spacing="3",
                ),
                spacing="3", width="100%",
            ),
            on_submit=SegmentsState.save, reset_on_submit=False, no_validate=True, key=SegmentsState.form_key,
        ),
        width="100%", max_width="760px",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this segment?"),
            rx.alert_dialog.description(SegmentsState.delete_text, size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete segment", color_scheme="red", on_click=SegmentsState.delete)),
                justify="end", spacing="3", padding_top="1rem",
            ),
            max_width="460px",
        ),
        open=SegmentsState.delete_id != "",
        on_open_change=SegmentsState.cancel_delete,
    )


def segments_page() -> rx.Component:
    s = SegmentsState
    return dashboard_page(
        "Segments",
        rx.text("Limit certificate types to customer groups (by email address or domain) or to markets (by the "
                "market in the portal link). Assign segments on the Certificate types page.", size="2",
                color=rx.color("gray", 11)),
        rx.cond(s.form_open, _form()),
        loading(s.loaded, rx.cond(
            s.rows.length() > 0,
            data_table("Segments", ("Segment", "Kind", "Who", "Certificate types", ""), s.rows, _row),
            empty_state("users", "No segments yet", "Every certificate type is open to everyone."),
        )),
        _delete_dialog(),
        actions=rx.cond(s.is_owner, rx.button(rx.icon("plus", size=16), "New segment",
                                              on_click=SegmentsState.new_segment)),
    )
