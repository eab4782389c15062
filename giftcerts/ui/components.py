"""Shared pieces of the dashboard: the layout, labelled form fields, status badges."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.forms import Form

from giftcerts.web.sessions import SIGN_OUT
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState

STATUS_COLORS = {"pending": "amber", "active": "green", "redeemed": "blue", "voided": "red", "expired": "gray",
                 "refunding": "orange"}
STATUS_OPTIONS = [("all", "All statuses"), ("pending", "Pending"), ("active", "Active"), ("redeemed", "Redeemed"),
                  ("voided", "Voided"), ("expired", "Expired"), ("refunding", "Refund in progress")]

NAV = [("Overview", routes.DASHBOARD, "layout-dashboard"),
       ("Certificates", routes.CERTIFICATES, "ticket"), ("Orders", routes.ORDERS, "shopping-cart"),
       ("Expirations", routes.EXPIRATIONS, "calendar-clock"),
       ("Certificate types", routes.CERTIFICATE_TYPES, "layers"), ("Segments", routes.SEGMENTS, "users"),
       ("Actions", routes.ACTIONS, "zap"), ("Jobs", routes.JOBS, "list-checks"),
       ("Settings", routes.SETTINGS, "settings")]


def status_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        *[(value, rx.badge(label, color_scheme=color, variant="soft", size="2")) for value, color in
          STATUS_COLORS.items()],
        rx.badge(label, variant="soft"),
    )


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    path = rx.State.router.page.path
    # The Overview is the dashboard's root: active only there, not on every page below it.
    active = (path == href) if href == routes.DASHBOARD else path.contains(href.rsplit("/", 1)[-1])
    return rx.link(
        rx.hstack(rx.icon(icon, size=16),
                  rx.text(label, size="2", weight="medium", display=rx.breakpoints(initial="none", md="block")),
                  spacing="2", align="center"),
        href=href,
        aria_label=label,
        title=label,
        underline="none",
        padding_x="0.75rem",
        padding_y="0.5rem",
        border_radius="6px",
        width="100%",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.color("gray", 3)},
    )


def _sidebar() -> rx.Component:
    return rx.el.nav(
        rx.vstack(
            rx.hstack(rx.icon("gift", size=22, color=rx.color("accent", 9)),
                      rx.heading("giftcerts", size="4", display=rx.breakpoints(initial="none", md="block")),
                      align="center", spacing="2", padding_bottom="1rem"),
            *[_nav_link(label, href, icon) for label, href, icon in NAV],
            spacing="1",
            width="100%",
        ),
        aria_label="Dashboard",
        width=rx.breakpoints(initial="60px", md="210px"),
        style={"flex_shrink": "0", "padding": "1.25rem 0.75rem",
               "border_right": f"1px solid {rx.color('gray', 5)}", "height": "100vh", "position": "sticky",
               "top": "0",
               "background": rx.color("gray", 2)},
    )


class _PostForm(Form):
    """A form the browser itself posts to a server route (Reflex's own form always cancels the
    submission and sends the fields over the websocket instead)."""

    @classmethod
    def create(cls, *children, **props):
        return super(Form, cls).create(*children, **props)  # skip Form.create's submit handler


def post_form(*children: rx.Component, action: str, **props) -> rx.Component:
    return _PostForm.create(*children, method="post", action=action, **props)


def _topbar() -> rx.Component:
    return rx.hstack(
        rx.text(AuthState.workspace_name, weight="bold", size="3"),
        rx.spacer(),
        rx.text(AuthState.staff_email, size="2", color=rx.color("gray", 11)),
        rx.badge(AuthState.staff_role, variant="outline"),
        # A form POST: the server ends the session and clears the HttpOnly cookie.
        post_form(rx.button("Sign out", type="submit", variant="ghost", size="2"), action=SIGN_OUT,
                  style={"margin": "0"}),
        align="center",
        spacing="3",
        padding="0.75rem 1.5rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
    )


def dashboard_page(title: str, *children: rx.Component, actions: rx.Component | None = None) -> rx.Component:
    """Every dashboard page: sidebar, top bar, then a titled content column."""
    return rx.hstack(
        _sidebar(),
        rx.vstack(
            _topbar(),
            rx.el.main(
                rx.vstack(
                    rx.hstack(rx.heading(title, size="6", as_="h1"), rx.spacer(), actions or rx.fragment(),
                              align="center", width="100%"),
                    *children,
                    spacing="4",
                    width="100%",
                ),
                style={"padding": "1.5rem", "width": "100%", "max_width": "1100px"},
            ),
            spacing="0",
            width="100%",
            min_width="0",
        ),
        spacing="0",
        align="start",
        width="100%",
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


def detail_page(title: str, *, back_label: str, back_href: str, loaded, not_found, not_found_text: str,
                content: rx.Component, actions: rx.Component | None = None) -> rx.Component:
    """A record's page: a way back, a spinner while loading, a clear not-found, then the record."""
    return dashboard_page(
        title,
        rx.link(rx.hstack(rx.icon("arrow-left", size=14), rx.text(back_label, size="2"), align="center"),
                href=back_href),
        loading(loaded, rx.cond(not_found, rx.callout(not_found_text, icon="search-x", width="100%"), content)),
        actions=actions,
    )
