"""/dashboard/settings/api-keys: the workspace's API keys. Everyone signed in may see the list
(prefixes only); only an owner creates or revokes. A new key is shown once, then only its
SHA-256 is kept."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from giftcerts import db
from giftcerts.clock import format_local
from giftcerts.core import apikeys, workspaces
from giftcerts.core.errors import DomainError
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import empty_state, text_field
from giftcerts.ui.components.layout import dashboard_page


def _key_row(key, tz: str) -> dict[str, str]:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix + "…",
        "created": format_local(key.created_at, tz),
        "last_used": format_local(key.last_used_at, tz) or "Never",
        "revoked": format_local(key.revoked_at, tz),
    }


class ApiKeysState(AuthState):
    keys: list[dict[str, str]] = []
    loaded: bool = False
    errors: dict[str, str] = {}
    form_key: int = 0
    # The plaintext of a key just created, for its owner's one look; cleared when the dialog closes.
    created_key: str = ""
    key_dialog_open: bool = False
    revoke_target: dict[str, str] = {}
    revoke_open: bool = False
    one_view_secrets: ClassVar[tuple[str, ...]] = ("created_key", "key_dialog_open")
    one_view_route: ClassVar[str] = routes.API_KEYS

    def _load(self, principal) -> None:
        ws = self._workspace(principal)
        with db.read_session() as session:
            keys = apikeys.list_keys(session, principal.workspace_id)
        self.keys = [_key_row(k, ws.timezone) for k in reversed(keys)]
        self.loaded = True

    def _clear(self) -> None:
        self.keys, self.created_key, self.key_dialog_open = [], "", False
        self.revoke_target, self.revoke_open = {}, False

    @rx.event
    def on_load(self):
        self.errors = {}
        self.created_key, self.key_dialog_open, self.revoke_open = "", False, False
        try:
            principal = self._guard()
        except DomainError as exc:
            self._clear()
            return self._refuse(exc)
        self._load(principal)

    @rx.event
    def create(self, form: dict):
        name = str(form.get("name", ""))[:200]
        try:
            principal = self._guard(owner=True)
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                _, plaintext = apikeys.create_api_key(session, ws, name=name)
        except DomainError as exc:
            self.created_key, self.key_dialog_open = "", False
            return self._refuse(exc)
        self.errors = {}
        self.form_key += 1
        self.created_key = plaintext
        self.key_dialog_open = True
        self._load(principal)

    @rx.event
    def set_key_dialog_open(self, value: bool):
        """Closing the dialog forgets the plaintext for good."""
        if not value:
            self.created_key, self.key_dialog_open = "", False

    @rx.event
    def ask_revoke(self, key_id: str):
        try:
            principal = self._guard(owner=True)
        except DomainError as exc:
            self.revoke_target, self.revoke_open = {}, False
            return self._refuse(exc)
        self._load(principal)
        match = [k for k in self.keys if k["id"] == str(key_id) and not k["revoked"]]
        if not match:
            return rx.toast.error("This API key no longer exists or is already revoked.")
        self.revoke_target = match[0]
        self.revoke_open = True

    @rx.event
    def set_revoke_open(self, value: bool):
        self.revoke_open = bool(value) and bool(self.revoke_target)
        if not value:
            self.revoke_target = {}

    @rx.event
    def revoke(self):
        key_id = self.revoke_target.get("id", "")
        self.revoke_open = False
        self.revoke_target = {}
        try:
            principal = self._guard(owner=True)
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                key = apikeys.revoke(session, ws, key_id=key_id)
                name = key.name
        except DomainError as exc:
            return self._refuse(exc)
        self._load(principal)
        return rx.toast.success(f"API key “{name}” revoked. Requests using it are refused from now on.")


def _row(key: rx.Var) -> rx.Component:
    revoked = key["revoked"] != ""
    return rx.table.row(
        rx.table.cell(rx.code(key["prefix"], variant="ghost"), white_space="nowrap"),
        rx.table.cell(key["name"]),
        rx.table.cell(key["created"], white_space="nowrap"),
        rx.table.cell(key["last_used"], white_space="nowrap"),
        rx.table.cell(rx.cond(revoked, rx.badge("Revoked " + key["revoked"], color_scheme="gray", variant="soft"),
                              rx.badge("Active", color_scheme="green", variant="soft"))),
        rx.table.cell(rx.cond(
            ApiKeysState.is_owner & ~revoked,
            rx.button("Revoke", size="1", variant="soft", color_scheme="red",
                      aria_label="Revoke API key " + key["name"] + " (" + key["prefix"] + ")",
                      on_click=ApiKeysState.ask_revoke(key["id"])),
        )),
    )


def _create_form() -> rx.Component:
    return rx.cond(
        ApiKeysState.is_owner,
        rx.card(
            rx.form(
                rx.hstack(
                    rx.box(text_field("Key name", "name", ApiKeysState.errors, placeholder="e.g. Booking platform",
                                      auto_complete="off", max_length=100), flex="1", min_width="220px"),
                    rx.button(rx.icon("key-round", size=16), "Create API key", type="submit"),
                    align="end",
                    spacing="3",
                    width="100%",
                    wrap="wrap",
                ),
                on_submit=ApiKeysState.create,
                reset_on_submit=False,
                no_validate=True,
                key=ApiKeysState.form_key,
            ),
            width="100%",
        ),
        rx.callout("Only an owner of this workspace can create or revoke API keys.", icon="lock", width="100%"),
    )


def _key_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Your new API key"),
            rx.dialog.description(
                "Copy it now and store it on your booking platform's server: it will not be shown again. "
                "Never put it in a web page.", size="2"),
            rx.vstack(
                rx.code(ApiKeysState.created_key, aria_label="New API key", size="3", variant="soft",
                        style={"overflow_wrap": "anywhere", "padding": "0.5rem", "width": "100%"}),
                rx.hstack(
                    rx.button(rx.icon("copy", size=16), "Copy", variant="soft", type="button",
                              on_click=[rx.set_clipboard(ApiKeysState.created_key),
                                        rx.toast.success("API key copied.")]),
                    rx.dialog.close(rx.button("Done", type="button")),
                    justify="end",
                    spacing="3",
                    width="100%",
                ),
                spacing="4",
                padding_top="1rem",
                width="100%",
            ),
            max_width="520px",
        ),
        open=ApiKeysState.key_dialog_open,
        on_open_change=ApiKeysState.set_key_dialog_open,
    )


def _revoke_dialog() -> rx.Component:
    t = ApiKeysState.revoke_target
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke this API key?"),
            rx.alert_dialog.description(
                rx.text("“", t["name"], "” (", t["prefix"], ") stops working at once: every request that uses it "
                        "is refused. This cannot be undone.", size="2"),
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Revoke key", color_scheme="red", on_click=ApiKeysState.revoke)),
                justify="end",
                spacing="3",
                padding_top="1rem",
            ),
            max_width="460px",
        ),
        open=ApiKeysState.revoke_open,
        on_open_change=ApiKeysState.set_revoke_open,
    )


def _table() -> rx.Component:
    return rx.el.section(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ["Key", "Name", "Created", "Last used", "Status", ""]])),
            rx.table.body(rx.foreach(ApiKeysState.keys, _row)),
            variant="surface",
            size="2",
            width="100%",
        ),
        aria_label="API keys",
        style={"width": "100%", "overflow_x": "auto"},
    )


def api_keys_page() -> rx.Component:
    return dashboard_page(
        "API keys",
        rx.link(rx.hstack(rx.icon("arrow-left", size=14), rx.text("Settings", size="2"), align="center"),
                href=routes.SETTINGS),
        rx.text("Your booking platform's server uses an API key (Authorization: Bearer …) to open orders, "
                "redeem certificates and create checkout widget sessions.", size="2", color=rx.color("gray", 11)),
        rx.cond(
            ApiKeysState.loaded,
            rx.vstack(
                _create_form(),
                rx.cond(ApiKeysState.keys.length() > 0, _table(),
                        empty_state("key-round", "No API keys yet",
                                    "Create a key for your booking platform's server.")),
                _key_dialog(),
                _revoke_dialog(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="3rem", width="100%", aria_label="Loading API keys"),
        ),
    )
