"""The page for an address that does not exist (Reflex's own is a bare line of text)."""

import reflex as rx

from giftcerts.web import routes
from giftcerts.ui.components.elements import empty_state


def not_found_page() -> rx.Component:
    return rx.center(
        rx.vstack(
            empty_state("map-pin-off", "Page not found",
                        "This address does not lead to any page. Check the link, or start again from the dashboard."),
            rx.link("Go to the dashboard", href=routes.DASHBOARD),
            align="center",
            spacing="4",
            max_width="32rem",
            width="100%",
        ),
        min_height="100vh",
        padding="1rem",
    )
