"""Shared pieces of the pages: labelled form fields, status badges, empty states, tables, the pager."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {"pending": "amber", "active": "green", "redeemed": "blue", "voided": "red", "expired": "gray",
                 "refunding": "orange"}
STATUS_OPTIONS = [("all", "All statuses"), ("pending", "Pending"), ("active", "Active"), ("redeemed", "Redeemed"),
                  ("voided", "Voided"), ("expired", "Expired"), ("refunding", "Refund in progress")]

def status_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        *[(value, rx.badge(label, color_scheme=color, variant="soft", size="2")) for value, color in
          STATUS_COLORS.items()],
        rx.badge(label, variant="soft"),
    )


def field_error(errors, name: str) -> rx.Component:
    return rx.cond(
        errors.contains(name),
        rx.text(errors[name], color=rx.color("red", 11), size="2", role="alert", id=f"{name}-error"),
    )


def text_field(label: str, name: str, errors, *, type: str = "text", placeholder: str = "",
               default_value=None, hint: str = "", **props) -> rx.Component:
    """A labelled input with its error message; the label names the input for screen readers."""
    input_id = f"field-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"font_weight": "500", "font_size": "14px"}),
        rx.input(id=input_id, name=name, type=type, placeholder=placeholder, default_value=default_value,
                 aria_invalid=rx.cond(errors.contains(name), "true", "false"),
                 # what aria-invalid tells a screen reader, shown: the field turns red
                 color_scheme=rx.cond(errors.contains(name), "red", "gray"),
                 variant=rx.cond(errors.contains(name), "soft", "surface"),
                 aria_describedby=f"{name}-error", width="100%", size="2", **props),
        rx.text(hint, size="1", color=rx.color("gray", 10)) if not isinstance(hint, str) or hint else rx.fragment(),
        field_error(errors, name),
        spacing="1",
        width="100%",
        align="start",
    )


def textarea_field(label: str, name: str, errors, *, placeholder: str = "", max_length: int = 1000,
                   default_value=None) -> rx.Component:
    input_id = f"field-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"font_weight": "500", "font_size": "14px"}),
        rx.text_area(id=input_id, name=name, placeholder=placeholder, max_length=max_length,
                     default_value=default_value, width="100%", rows="3", aria_describedby=f"{name}-error"),
        field_error(errors, name),
        spacing="1",
        width="100%",
        align="start",
    )


def native_select(label: str, id: str, options: list[tuple[str, str]] | rx.Var, *, value=None, on_change=None,
                  name: str | None = None, default_value=None) -> rx.Component:
    """A real <select> with a real <label>: keyboard and screen-reader friendly everywhere.

    `options` is a list of (value, text) pairs, or a Var holding a list of strings."""
    props = {}
    if value is not None:
        props["value"] = value
    if default_value is not None:
        props["default_value"] = default_value
    if on_change is not None:
        props["on_change"] = on_change
    return rx.vstack(
        rx.el.label(label, html_for=id, style={"font_weight": "500", "font_size": "14px"}),
        rx.el.select(
            *([rx.foreach(options, lambda o: rx.el.option(o, value=o))] if isinstance(options, rx.Var)
              else [rx.el.option(text, value=val) for val, text in options]),
            id=id,
            name=name or id,
            style={"height": "32px", "padding": "0 8px", "border_radius": "6px",
                   "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1),
                   "font_size": "14px", "min_width": "160px"},
            **props,
        ),
        spacing="1",
        align="start",
    )


def detail_item(label: str, value) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color=rx.color("gray", 10), weight="medium"),
        rx.text(value, size="2", style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
        spacing="0",
        align="start",
    )


def empty_state(icon: str, title: str, body: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=36, color=rx.color("gray", 9)),
            rx.heading(title, size="4"),
            rx.text(body, color=rx.color("gray", 11), size="2", text_align="center"),
            align="center",
            spacing="2",
        ),
        padding="3rem",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="8px",
    )


def loading(loaded, content: rx.Component) -> rx.Component:
    """A spinner until the page's state has loaded, then the content."""
    return rx.cond(~loaded, rx.center(rx.spinner(size="3"), padding="3rem", width="100%", aria_label="Loading"),
                   content)


def data_table(label: str, headers: tuple[str, ...], rows, render_row) -> rx.Component:
    """A full-width table named for screen readers, scrolling sideways on narrow screens."""
    return rx.el.section(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, render_row)),
            width="100%", variant="surface",
        ),
        aria_label=label, style={"width": "100%", "overflow_x": "auto"},
    )


def pager(state) -> rx.Component:
    """Previous / Next for a keyset-paginated list state (page_number, next_cursor, *_page)."""
    return rx.hstack(
        rx.text("Page ", state.page_number, size="2", color=rx.color("gray", 11)),
        rx.spacer(),
        rx.button("Previous", variant="soft", on_click=state.previous_page, disabled=state.page_number <= 1),
        rx.button("Next", variant="soft", on_click=state.next_page, disabled=state.next_cursor == ""),
        width="100%",
        align="center",
    )
