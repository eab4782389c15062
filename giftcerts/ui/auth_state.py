"""Who is signed in. Every page state of the dashboard inherits from AuthState.

Any browser can call any public event handler over the websocket, whatever the page
shows, so each handler that reads or writes workspace data calls `_principal()` (or
`_guard()`) itself: the session token is looked up in the database every time, which
also makes sign-out and expiry take effect at once. Public vars hold only what the
signed-in staff member may see.

The token lives in an HttpOnly cookie that the server sets (giftcerts.api.staff_sessions); it
is read here from the websocket's handshake headers, which stay on the server, and is never
a state var, so it never travels to the browser's scripts.
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from giftcerts import db
from giftcerts.web.sessions import token_from_cookies
from giftcerts.core import accounts, workspaces
from giftcerts.core.accounts import Principal
from giftcerts.core.errors import DomainError, NotSignedIn, ValidationError
from giftcerts.models import Workspace
from giftcerts.web import routes


class AuthState(rx.State):
    staff_email: str = ""
    staff_role: str = ""
    workspace_name: str = ""
    workspace_slug: str = ""
    # Which staff session this tab's page states were filled for (giftcerts.ui.session_boundary).
    _session_fingerprint: str = ""

    # What a page shows once and forgets when the tab moves to another page (session_boundary).
    one_view_secrets: ClassVar[tuple[str, ...]] = ()
    one_view_route: ClassVar[str] = ""

    @property
    def session_token(self) -> str:
        """This browser's session token, from the cookie its websocket connected with."""
        return token_from_cookies(self.router.headers.cookie)

    @rx.var
    def can_write(self) -> bool:
        return self.staff_role in ("owner", "staff")

    @rx.var
    def is_owner(self) -> bool:
        return self.staff_role == "owner"

    def _principal(self) -> Principal | None:
        with db.read_session() as session:
            principal = accounts.resolve_session(session, self.session_token)
        if principal is None:
            self.staff_email = self.staff_role = self.workspace_name = self.workspace_slug = ""
            return None
        self.staff_email = principal.email
        self.staff_role = principal.role.value
        self.workspace_name = principal.workspace_name
        self.workspace_slug = principal.workspace_slug
        return principal

    def _guard(self, *, write: bool = False, owner: bool = False) -> Principal:
        """The signed-in principal, or a DomainError explaining why not."""
        principal = self._principal()
        if principal is None:
            raise NotSignedIn("Your session has ended. Please sign in again.")
        if write:
            principal.require_write()
        if owner:
            principal.require_owner()
        return principal

    def _workspace(self, principal: Principal) -> Workspace:
        with db.read_session() as session:
            return workspaces.get_workspace(session, principal.workspace_id)

    def _refuse(self, exc: DomainError):
        """The UI's answer to a refused action: back to sign-in, or a clear message."""
        if isinstance(exc, NotSignedIn):
            return rx.redirect(self._login_returning_here())
        if isinstance(exc, ValidationError):
            return rx.toast.error("Please correct the highlighted fields.")
        return rx.toast.error(exc.message)

    def _login_returning_here(self) -> str:
        url = self.router.url
        return routes.login(url.path + (f"?{url.query}" if url.query else ""))

    @rx.event
    def require_login(self):
        """on_load of every dashboard page: unknown or expired sessions go to sign-in."""
        principal = self._principal()
        if principal is None:
            return rx.redirect(self._login_returning_here())
        with db.write_session() as session:
            accounts.touch_session(session, self.session_token)
