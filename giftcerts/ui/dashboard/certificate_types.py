"""/dashboard/certificate-types: what the portal sells, and to whom.

Everyone signed in may look; only owners change the catalogue (like settings)."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.core import certificate_types, money, segments
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.models import SegmentKind
from giftcerts.ui.components import present
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import data_table, empty_state, field_error, loading, text_field, textarea_field
from giftcerts.ui.components.layout import dashboard_page

EMPTY_FORM = {"name": "", "description": "", "accent_color": "", "image_url": "", "preset_amounts": "",
              "min_amount": "", "max_amount": "", "active": "on"}


def _kind_label(kind: str) -> str:
    return "Market" if kind == SegmentKind.MARKET.value else "Customer group"


class CertificateTypesState(AuthState):
    types: list[dict[str, str]] = []
    segment_options: list[dict[str, str]] = []
    currency: str = ""
    bounds: str = ""
    form_open: bool = False
    editing: str = ""
    form: dict[str, str] = dict(EMPTY_FORM)
    chosen_segments: list[str] = []
    errors: dict[str, str] = {}
    form_key: int = 0
    loaded: bool = False

    def _refresh(self, principal) -> None:
        ws = self._workspace(principal)
        with db.read_session() as session:
            all_segments = segments.list_segments(session, ws.id)
            names = {s.id: s.name for s in all_segments}
            allowed = certificate_types.type_segment_ids(session, ws.id)
            rows = certificate_types.list_types(session, ws.id)
        self.currency = ws.currency
        self.bounds = (f"Workspace bounds: {money.format_money(ws.min_amount_cents, ws.currency)} to "
                       f"{money.format_money(ws.max_amount_cents, ws.currency)}")
        self.segment_options = [{"id": str(s.id), "name": s.name, "kind": _kind_label(s.kind)} for s in all_segments]
        self.types = []
        for t in rows:
            low, high = certificate_types.bounds(ws, t)
            who = sorted(names[sid] for sid in allowed.get(t.id, ()) if sid in names)
            self.types.append({
                "id": str(t.id), "name": t.name, "description": t.description,
                "accent": t.accent_color or "var(--gray-8)",
                "amounts": ", ".join(money.format_money(v, ws.currency)
                                     for v in certificate_types.presets(ws, t)) or "—",
                "bounds": f"{money.format_money(low, ws.currency)} – {money.format_money(high, ws.currency)}",
                "who": ", ".join(who) if who else "Everyone",
                "status": "On sale" if t.active else "Not on sale",
            })

    @rx.event
    def on_load(self):
        self.errors, self.form_open = {}, False
        try:
            principal = self._guard()
        except DomainError as exc:
            return self._refuse(exc)
        self._refresh(principal)
        self.loaded = True

    @rx.event
    def new_type(self):
        try:
            self._guard(owner=True)
        except DomainError as exc:
            return self._refuse(exc)
        self.editing, self.form, self.chosen_segments, self.errors = "", dict(EMPTY_FORM), [], {}
        self.form_open = True
        self.form_key += 1

    @rx.event
    def edit(self, type_id: str):
        try:
            principal = self._guard(owner=True)
            ws = self._workspace(principal)
            with db.read_session() as session:
                t = certificate_types.get_type(session, ws.id, str(type_id)[:12])
                chosen = sorted(certificate_types.type_segment_ids(session, ws.id).get(t.id, set()))
        except DomainError as exc:
            return self._refuse(exc)
        plain = lambda cents: present.amount_input(cents, ws.currency, ws.locale) if cents else ""  # noqa: E731
        self.form = {
            "name": t.name, "description": t.description, "accent_color": t.accent_color, "image_url": t.image_url,
            "preset_amounts": ("; " if money.uses_decimal_comma(ws.locale) else ", ").join(
                plain(int(v)) for v in t.preset_amounts.split(",") if v.strip().isdigit()),
            "min_amount": plain(t.min_amount_cents), "max_amount": plain(t.max_amount_cents),
            "active": "on" if t.active else "",
        }
        self.chosen_segments = [str(s) for s in chosen]
        self.editing, self.errors, self.form_open = str(t.id), {}, True
        self.form_key += 1

    @rx.event
    def close_form(self):
        self.form_open, self.errors = False, {}

    @rx.event
    def save(self, form: dict):
        try:
            principal = self._guard(owner=True)
            ws = self._workspace(principal)
            with db.write_session() as session:
                certificate_types.save_type(
                    session, ws, type_id=self.editing or None,
                    name=str(form.get("name", ""))[:500], description=str(form.get("description", ""))[:5000],
                    accent_color=str(form.get("accent_color", ""))[:20], image_url=str(form.get("image_url", ""))[:600],
                    preset_amounts=str(form.get("preset_amounts", ""))[:500],
                    min_amount=str(form.get("min_amount", ""))[:40], max_amount=str(form.get("max_amount", ""))[:40],
                    active=form.get("active") in ("on", "true", True),
                    segment_ids=[k.removeprefix("segment_") for k, v in form.items()
                                 if str(k).startswith("segment_") and v in ("on", "true", True)][:200],
                )
        except ValidationError as exc:
            self.errors = exc.errors
            return rx.toast.error("Not saved: please correct the highlighted fields.")
        except DomainError as exc:
            return self._refuse(exc)
        self.form_open, self.errors = False, {}
        self._refresh(principal)
        return rx.toast.success("Certificate type saved.")


def _row(t: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.hstack(rx.box(width="10px", height="28px", border_radius="3px", background=t["accent"]),
                                rx.vstack(rx.text(t["name"], weight="medium", size="2"),
                                          rx.text(t["description"], size="1", color=rx.color("gray", 10),
                                                  style={"max_width": "320px", "overflow": "hidden",
                                                         "text_overflow": "ellipsis", "white_space": "nowrap"}),
                                          spacing="0"),
                                align="center", spacing="2")),
        rx.table.cell(t["amounts"]),
        rx.table.cell(t["bounds"]),
        rx.table.cell(t["who"]),
        rx.table.cell(t["status"]),
        rx.table.cell(rx.cond(CertificateTypesState.is_owner,
                              rx.button("Edit", size="1", variant="soft", aria_label="Edit " + t["name"],
                                        on_click=CertificateTypesState.edit(t["id"])))),
    )


def _segment_choice(s: rx.Var) -> rx.Component:
    box_id = "type-segment-" + s["id"]
    return rx.el.label(
        rx.hstack(
            rx.el.input(type="checkbox", id=box_id, name="segment_" + s["id"],
                        default_checked=CertificateTypesState.chosen_segments.contains(s["id"])),
            rx.text(s["name"], size="2"), rx.badge(s["kind"], variant="soft", size="1"),
            align="center", spacing="2",
        ),
        html_for=box_id,
    )


def _form() -> rx.Component:
    s, errors, f = CertificateTypesState, CertificateTypesState.errors, CertificateTypesState.form
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(s.editing == "", "New certificate type", "Edit certificate type"), size="4",
                           as_="h2"),
                text_field("Name", "name", errors, default_value=f["name"]),
                textarea_field("Description", "description", errors, default_value=f["description"]),
                rx.grid(
                    text_field("Accent colour", "accent_color", errors, placeholder="#0f766e",
                               default_value=f["accent_color"]),
                    text_field("Image address", "image_url", errors, placeholder="https://…",
                               default_value=f["image_url"]),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="4", width="100%",
                ),
                text_field("Preset amounts", "preset_amounts", errors, placeholder="50, 100, 250",
                           default_value=f["preset_amounts"], hint="Empty: the workspace's preset amounts."),
                rx.grid(
                    text_field("Minimum amount", "min_amount", errors, default_value=f["min_amount"],
                               placeholder="Workspace minimum"),
                    text_field("Maximum amount", "max_amount", errors, default_value=f["max_amount"],
                               placeholder="Workspace maximum"),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="4", width="100%",
                ),
                rx.text(s.bounds, " (", s.currency, ")", size="1", color=rx.color("gray", 10)),
                rx.el.fieldset(
                    rx.el.legend("Who may buy it", style={"font_weight": "500", "font_size": "14px"}),
                    rx.cond(s.segment_options.length() > 0,
                            rx.vstack(rx.foreach(s.segment_options, _segment_choice), spacing="1"),
                            rx.text("No segments yet. ", rx.link("Create segments", href=routes.SEGMENTS),
                                    " to restrict a type to customer groups or markets.", size="2")),
                    rx.text("None ticked: everyone can buy it.", size="1", color=rx.color("gray", 10)),
                    field_error(errors, "segments"),
                    style={"border": "0", "padding": "0", "margin": "0"},
                ),
                rx.el.label(
                    rx.hstack(rx.el.input(type="checkbox", name="active", id="type-active",
                                          default_checked=f["active"] == "on"),
                              rx.text("On sale in the portal", size="2"), align="center", spacing="2"),
                    html_for="type-active",
                ),
                rx.hstack(
                    rx.button("Cancel", type="button", variant="soft", color_scheme="gray",
                              on_click=CertificateTypesState.close_form),
                    rx.button("Save certificate type", type="submit"),
                    justify="end", width="100%", spacing="3",
                ),
                spacing="3", width="100%",
            ),
            on_submit=CertificateTypesState.save, reset_on_submit=False, no_validate=True,
            key=CertificateTypesState.form_key,
        ),
        width="100%", max_width="760px",
    )


def certificate_types_page() -> rx.Component:
    s = CertificateTypesState
    return dashboard_page(
        "Certificate types",
        rx.text("The certificates your portal offers. A type can be limited to segments (customer groups or "
                "markets); the portal shows each visitor only the types they may buy.", size="2",
                color=rx.color("gray", 11)),
        rx.cond(s.form_open, _form()),
        loading(s.loaded, rx.cond(
            s.types.length() > 0,
            data_table("Certificate types", ("Type", "Preset amounts", "Allowed amounts", "Who may buy", "Status", ""),
                       s.types, _row),
            empty_state("layers", "No certificate types yet",
                        "Without types, the portal sells one plain certificate within the workspace's bounds."),
        )),
        actions=rx.cond(s.is_owner, rx.button(rx.icon("plus", size=16), "New certificate type",
                                              on_click=CertificateTypesState.new_type)),
    )
