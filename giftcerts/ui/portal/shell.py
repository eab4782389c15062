"""What the portal's pages share: the shop's header over one column, and a page that only says
something (shop not found, not selling, not completed...)."""

from __future__ import annotations

import reflex as rx


def shell(*children, title) -> rx.Component:
    """A portal page: the shop's name as a header over one centred column."""
    return rx.box(
        rx.el.header(
            rx.hstack(
                rx.icon("gift", size=22, color=rx.color("accent", 9), aria_hidden="true"),
                rx.heading(title, size="5", as_="p"),
                align="center", spacing="2", max_width="760px", margin="0 auto", width="100%",
            ),
            style={"padding": "1rem 1.25rem", "border_bottom": f"1px solid {rx.color('gray', 5)}",
                   "background": rx.color("accent", 2)},
        ),
        rx.el.main(
            rx.vstack(*children, spacing="5", width="100%"),
            style={"max_width": "760px", "margin": "0 auto", "padding": "1.5rem 1.25rem 3rem"},
        ),
        min_height="100vh",
    )


def message_page(icon: str, heading: str, body: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=40, color=rx.color("gray", 9), aria_hidden="true"),
            rx.heading(heading, size="6", as_="h1", text_align="center"),
            rx.text(body, size="3", color=rx.color("gray", 11), text_align="center"),
            align="center", spacing="3", max_width="460px",
        ),
        padding="4rem 1rem", width="100%",
    )
