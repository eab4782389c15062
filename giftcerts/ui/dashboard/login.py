"""/login: Email, Password, Sign in. Throttled per client address, paused per email and address.

The form posts to /auth/sign-in (giftcerts.api.staff_sessions), which sets the HttpOnly session
cookie, or comes back here with why it refused in a short-lived cookie that this page reads once.
"""

from __future__ import annotations

import reflex as rx

from giftcerts.web.sessions import OUTCOME_COOKIE, SIGN_IN, outcome_from_cookies
from giftcerts.clock import wait_phrase
from giftcerts.core.accounts import SIGN_IN_FAILED
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import text_field
from giftcerts.ui.components.layout import post_form


def _wait(seconds: str) -> str:
    """The wait carried by the outcome cookie, which a visitor could edit: digits only, at most a day."""
    return wait_phrase(min(int(seconds), 24 * 3600) if seconds.isdigit() else 60)


def refusal(error: str, wait: str) -> str:
    """What a refused sign-in says (known codes only: nothing from the request is shown as is)."""
    return {
        "missing": "Enter your email and your password.",
        "failed": SIGN_IN_FAILED,
        "throttled": f"Too many sign-in attempts from your network. Try again in {_wait(wait)}.",
        "unavailable": "Signing in is briefly unavailable. Try again in a few seconds.",
    }.get(error, "")


class LoginState(AuthState):
    error: str = ""
    email: str = ""
    next_page: str = ""
    errors: dict[str, str] = {}
    _outcome_seen: str = ""

    @rx.event
    def redirect_if_signed_in(self):
        if self._principal() is not None:
            return rx.redirect(routes.after_sign_in(self._asked_for()))

    @rx.event
    def show_outcome(self):
        """on_load: the page the visitor asked for, and why the last attempt was refused (once)."""
        self.next_page = self._asked_for()
        outcome = outcome_from_cookies(self.router.headers.cookie)
        if not outcome:
            self.error = ""
            return
        if outcome.get("n", "") == self._outcome_seen:
            return  # the same page view again (its connection still carries the removed cookie)
        self._outcome_seen = outcome.get("n", "")
        self.error = refusal(outcome.get("error", ""), outcome.get("wait", ""))
        self.email = outcome.get("email", "")[:254]
        return rx.remove_cookie(OUTCOME_COOKIE, {"path": "/"})

    @rx.event
    def set_email(self, value: str):
        self.email = str(value)[:254]

    def _asked_for(self) -> str:
        """The dashboard page that sent the visitor here (?next=...), passed on to the sign-in."""
        return str(self.router.url.query_parameters.get("next", ""))[:2000]


def login_page() -> rx.Component:
    return rx.center(
        rx.el.main(rx.card(
            post_form(
                rx.vstack(
                    rx.hstack(rx.icon("gift", size=26, color=rx.color("accent", 9), aria_hidden="true"),
                              rx.heading("Sign in to giftcerts", size="5", as_="h1"), align="center"),
                    rx.text("Staff dashboard for your gift certificate programme.", size="2",
                            color=rx.color("gray", 11)),
                    text_field("Email", "email", LoginState.errors, type="email", auto_complete="username",
                               placeholder="you@company.com", auto_focus=True, required=True, max_length=254,
                               value=LoginState.email, on_change=LoginState.set_email),
                    text_field("Password", "password", LoginState.errors, type="password",
                               auto_complete="current-password", required=True, max_length=1024),
                    rx.el.input(type="hidden", name="next", value=LoginState.next_page),
                    rx.cond(LoginState.error != "",
                            rx.callout(LoginState.error, icon="triangle_alert", color_scheme="red", role="alert",
                                       width="100%")),
                    rx.button("Sign in", type="submit", width="100%", size="3", loading=LoginState.is_hydrated == False),  # noqa: E712
                    spacing="4",
                    width="100%",
                ),
                action=SIGN_IN,
            ),
            width="100%",
            size="4",
        ), style={"width": "100%", "max_width": "400px"}),
        min_height="100vh",
        padding="1rem",
        background=rx.color("gray", 2),
    )
