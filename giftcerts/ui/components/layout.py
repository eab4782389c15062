"""The dashboard's frame: sidebar, top bar with sign-out, a page's titled column, a record's page."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.forms import Form

from giftcerts.web.sessions import SIGN_OUT
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import loading

NAV = [("Overview", routes.DASHBOARD, "layout-dashboard"),
       ("Certificates", routes.CERTIFICATES, "ticket"), ("Orders", routes.ORDERS, "shopping-cart"),
       ("Expirations", routes.EXPIRATIONS, "calendar-clock"),
       ("Certificate types", routes.CERTIFICATE_TYPES, "layers"), ("Segments", routes.SEGMENTS, "users"),
       ("Actions", routes.ACTIONS, "zap"), ("Jobs", routes.JOBS, "list-checks"),
       ("Settings", routes.SETTINGS, "settings")]


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    path = rx.State.router.page.path
    # The Overview is the dashboard's root: active only there, not on every page below it.
    active = (path == href) if href == routes.DASHBOARD else path.contains(href.rsplit("/", 1)[-1])
    return rx.link(
        rx.hstack(rx.icon(icon, size=16, aria_hidden="true"),
                  # the label shows beside its icon on a laptop and in the phone's menu
                  rx.text(label, size="2", weight="medium",
                          display=rx.breakpoints(initial="block", sm="none", md="block")),
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


def _nav_links() -> list[rx.Component]:
    return [_nav_link(label, href, icon) for label, href, icon in NAV]


def _sidebar() -> rx.Component:
    """From tablet width up: a rail of icons (tablet), with their labels on a laptop."""
    return rx.el.nav(
        rx.vstack(
            rx.hstack(rx.icon("gift", size=22, color=rx.color("accent", 9), aria_hidden="true"),
                      rx.heading("giftcerts", size="4", display=rx.breakpoints(initial="none", md="block")),
                      align="center", spacing="2", padding_bottom="1rem"),
            *_nav_links(),
            spacing="1",
            width="100%",
        ),
        aria_label="Dashboard",
        display=rx.breakpoints(initial="none", sm="block"),
        width=rx.breakpoints(initial="60px", md="210px"),
        style={"flex_shrink": "0", "padding": "1.25rem 0.75rem",
               "border_right": f"1px solid {rx.color('gray', 5)}", "height": "100vh", "position": "sticky",
               "top": "0",
               "background": rx.color("gray", 2)},
    )


def _menu() -> rx.Component:
    """On a phone the navigation folds into a menu button at the top bar's start."""
    return rx.box(
        rx.popover.root(
            rx.popover.trigger(rx.button(rx.icon("menu", size=18, aria_hidden="true"), "Menu", variant="soft",
                                         size="2", type="button")),
            rx.popover.content(
                rx.el.nav(rx.vstack(*_nav_links(), spacing="1", width="100%"), aria_label="Dashboard",
                          style={"width": "100%"}),
                align="start", width="min(260px, calc(100vw - 2rem))", aria_label="Menu",
            ),
        ),
        display=rx.breakpoints(initial="block", sm="none"),
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
        _menu(),
        rx.text(AuthState.workspace_name, weight="bold", size="3",
                style={"min_width": "0", "overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}),
        rx.spacer(),
        rx.text(AuthState.staff_email, size="2", color=rx.color("gray", 11),
                display=rx.breakpoints(initial="none", md="block")),
        rx.badge(AuthState.staff_role, variant="outline", display=rx.breakpoints(initial="none", sm="inline-flex")),
        # A form POST: the server ends the session and clears the HttpOnly cookie.
        post_form(rx.button("Sign out", type="submit", variant="ghost", size="2"), action=SIGN_OUT,
                  style={"margin": "0"}),
        align="center",
        spacing="3",
        padding=rx.breakpoints(initial="0.75rem 1rem", sm="0.75rem 1.5rem"),
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
                              align="center", width="100%", wrap="wrap"),
                    *children,
                    spacing="4",
                    width="100%",
                ),
                padding=rx.breakpoints(initial="1rem", sm="1.5rem"),
                style={"width": "100%", "max_width": "1100px", "min_width": "0"},
            ),
            spacing="0",
            width="100%",
            min_width="0",
        ),
        spacing="0",
        align="start",
        width="100%",
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
