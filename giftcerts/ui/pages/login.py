"""/login: Email, Password, Sign in. Throttled per client address and locked per account."""

from __future__ import annotations

import asyncio

import reflex as rx

from giftcerts import db, ratelimit
from giftcerts.core import accounts
from giftcerts.ui import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components import text_field


def _sign_in(email: str, password: str) -> accounts.SignInOutcome:
    with db.write_session() as session:
        return accounts.sign_in(session, email=email, password=password)


class LoginState(AuthState):
    error: str = ""
    errors: dict[str, str] = {}
    busy: bool = False

    @rx.event
    def redirect_if_signed_in(self):
        if self._principal() is not None:
            return rx.redirect(self._next_page())

    @rx.event
    async def sign_in(self, form: dict):
        self.error = ""
        email = str(form.get("email", ""))[:254]
        password = str(form.get("password", ""))[:1024]
        self.errors = {k: v for k, v in {"email": "" if email.strip() else "Enter your email.",
                                         "password": "" if password else "Enter your password."}.items() if v}
        if self.errors:
            return
        wait = ratelimit.hit(ratelimit.SIGN_IN_PER_ADDRESS, "sign-in", self.router.session.client_ip or "unknown")
        if wait is not None:
            minutes = wait // 60 + 1
            self.error = (f"Too many sign-in attempts from your network. "
                          f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
            return
        # argon2 is deliberately slow: keep it off the event loop that serves every other client.
        outcome = await asyncio.to_thread(_sign_in, email, password)
        if outcome.error is not None:
            self.error = outcome.error.message
            return
        self.session_token = outcome.token
        self._principal()
        return rx.redirect(self._next_page())

    def _next_page(self) -> str:
        """The dashboard page that sent the visitor here (?next=...), else the Overview."""
        return routes.after_sign_in(self.router.url.query_parameters.get("next", ""))


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(rx.icon("gift", size=26, color=rx.color("accent", 9)),
                              rx.heading("Sign in to giftcerts", size="5", as_="h1"), align="center"),
                    rx.text("Staff dashboard for your gift certificate programme.", size="2",
                            color=rx.color("gray", 11)),
                    text_field("Email", "email", LoginState.errors, type="email", auto_complete="username",
                               placeholder="you@company.com", auto_focus=True),
                    text_field("Password", "password", LoginState.errors, type="password",
                               auto_complete="current-password"),
                    rx.cond(LoginState.error != "",
                            rx.callout(LoginState.error, icon="triangle_alert", color_scheme="red", role="alert",
                                       width="100%")),
                    rx.button("Sign in", type="submit", width="100%", size="3", loading=LoginState.is_hydrated == False),  # noqa: E712
                    spacing="4",
                    width="100%",
                ),
                on_submit=LoginState.sign_in,
                reset_on_submit=False,
                no_validate=True,
            ),
            width="100%",
            max_width="400px",
            size="4",
        ),
        min_height="100vh",
        padding="1rem",
        background=rx.color("gray", 2),
    )
