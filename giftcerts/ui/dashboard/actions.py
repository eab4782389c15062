"""/dashboard/actions: the workspace's automation rules — when something happens to a
certificate, who gets which email. Edit with placeholders and a live preview; turn on/off."""

from __future__ import annotations

import reflex as rx

from giftcerts import db
from giftcerts.core import action_defaults, workspaces
from giftcerts.core.errors import DomainError, ValidationError
from giftcerts.notify import actions, templates
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import data_table, empty_state, field_error, loading, native_select, text_field
from giftcerts.ui.components.layout import dashboard_page

TRIGGER_OPTIONS = list(actions.TRIGGERS.items())
PLACEHOLDER_HELP = [{"name": "{{ " + k + " }}", "meaning": v} for k, v in templates.PLACEHOLDERS.items()]


def _row(a) -> dict[str, str]:
    return {"id": str(a.id), "name": a.name, "trigger": actions.TRIGGERS[a.trigger],
            "recipients": ", ".join(actions.ROLES[r] for r in a.recipients.split(",") if r in actions.ROLES)
            + (f" ({a.staff_emails})" if "staff" in a.recipients.split(",") else ""),
            "enabled": "yes" if a.enabled else "", "attach": "yes" if a.attach_pdf else ""}


class ActionsState(AuthState):
    rows: list[dict[str, str]] = []
    loaded: bool = False
    # The editor ("" closed, "new" for a new action, else the action's id) and its draft.
    editing: str = ""
    draft: dict[str, str] = {}
    draft_roles: list[str] = []
    subject: str = ""
    body: str = ""
    preview_subject: str = ""
    preview_text: str = ""
    preview_error: str = ""
    errors: dict[str, str] = {}
    form_key: int = 0
    delete_target: dict[str, str] = {}

    def _load(self, principal) -> None:
        with db.read_session() as session:
            self.rows = [_row(a) for a in actions.list_actions(session, workspace_id=principal.workspace_id)]
        self.loaded = True

    def _close(self) -> None:
        self.editing, self.draft, self.draft_roles, self.subject, self.body = "", {}, [], "", ""
        self.preview_subject = self.preview_text = self.preview_error = ""
        self.errors = {}

    def _preview(self) -> None:
        rendered, errors = templates.preview(self.subject, self.body)
        if rendered is None:
            self.preview_subject, self.preview_text = "", ""
            self.preview_error = next(iter(errors.values()))
        else:
            self.preview_subject, self.preview_text, self.preview_error = rendered.subject, rendered.text, ""

    @rx.event
    def on_load(self):
        self._close()
        try:
            principal = self._guard()
        except DomainError as exc:
            self.rows = []
            return self._refuse(exc)
        self._load(principal)

    @rx.event
    def edit(self, action_id: str):
        try:
            principal = self._guard(write=True)
            with db.read_session() as session:
                a = actions.get_action(session, workspace_id=principal.workspace_id, action_id=action_id)
        except DomainError as exc:
            self._close()
            return self._refuse(exc)
        self.editing = str(a.id)
        self.draft = {"name": a.name, "trigger": a.trigger, "staff_emails": a.staff_emails,
                      "attach_pdf": "yes" if a.attach_pdf else "", "enabled": "yes" if a.enabled else ""}
        self.draft_roles = a.recipients.split(",")
        self.subject, self.body = a.subject_template, a.body_template
        self.errors = {}
        self.form_key += 1
        self._preview()

    @rx.event
    def new_action(self):
        try:
            self._guard(write=True)
        except DomainError as exc:
            self._close()
            return self._refuse(exc)
        self.editing = "new"
        self.draft = {"name": "", "trigger": "activated", "staff_emails": "", "attach_pdf": "", "enabled": "yes"}
        self.draft_roles = ["recipient"]
        self.subject, self.body = action_defaults.CERTIFICATE_SUBJECT, action_defaults.CERTIFICATE_BODY
        self.errors = {}
        self.form_key += 1
        self._preview()

    @rx.event
    def cancel(self):
        self._close()

    @rx.event
    def set_subject(self, value: str):
        """Live preview while typing (sample data only: nothing of the workspace is read)."""
        if not self.editing:
            return
        self.subject = str(value)[:300]
        self._preview()

    @rx.event
    def set_body(self, value: str):
        if not self.editing:
            return
        self.body = str(value)[:5000]
        self._preview()

    @rx.event
    def save(self, form: dict):
        try:
            principal = self._guard(write=True)
            data = actions.validate(
                name=str(form.get("name", ""))[:200], trigger=str(form.get("trigger", "")),
                recipients=[r for r in actions.ROLES if form.get(f"to_{r}") in ("on", "true", True)],
                staff_emails=str(form.get("staff_emails", ""))[:1000], subject=self.subject, body=self.body,
                attach_pdf=form.get("attach_pdf") in ("on", "true", True),
                enabled=form.get("enabled") in ("on", "true", True),
            )
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                actions.save_action(session, ws, data, action_id=None if self.editing == "new" else self.editing)
        except ValidationError as exc:
            self.errors = exc.errors
            return rx.toast.error("Action not saved: please correct the highlighted fields.")
        except DomainError as exc:
            return self._refuse(exc)
        self._close()
        self._load(principal)
        return rx.toast.success(f"Action “{data.name}” saved.")

    @rx.event
    def set_enabled(self, action_id: str, enabled: bool):
        try:
            principal = self._guard(write=True)
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                a = actions.set_enabled(session, ws, action_id=action_id, enabled=bool(enabled))
                name = a.name
        except DomainError as exc:
            return self._refuse(exc)
        self._load(principal)
        return rx.toast.success(f"“{name}” {'enabled' if enabled else 'disabled'}.")

    @rx.event
    def ask_delete(self, action_id: str):
        try:
            self._guard(write=True)
        except DomainError as exc:
            self.delete_target = {}
            return self._refuse(exc)
        self.delete_target = next((r for r in self.rows if r["id"] == str(action_id)), {})

    @rx.event
    def set_delete_open(self, value: bool):
        if not value:
            self.delete_target = {}

    @rx.event
    def delete(self):
        target = self.delete_target.get("id", "")
        self.delete_target = {}
        try:
            principal = self._guard(write=True)
            with db.write_session() as session:
                ws = workspaces.get_workspace(session, principal.workspace_id)
                actions.delete_action(session, ws, action_id=target)
        except DomainError as exc:
            return self._refuse(exc)
        self._close()
        self._load(principal)
        return rx.toast.success("Action deleted.")


def _row_view(row: rx.Var) -> rx.Component:
    s = ActionsState
    return rx.table.row(
        rx.table.cell(rx.text(row["name"], weight="medium")),
        rx.table.cell(row["trigger"]),
        rx.table.cell(row["recipients"]),
        rx.table.cell(rx.cond(row["attach"] == "yes", "PDF attached", "")),
        rx.table.cell(rx.switch(checked=row["enabled"] == "yes", disabled=~s.can_write,
                                on_change=lambda v: s.set_enabled(row["id"], v),
                                aria_label="Enabled: " + row["name"])),
        rx.table.cell(rx.cond(s.can_write, rx.hstack(
            rx.button("Edit", size="1", variant="soft", on_click=s.edit(row["id"]),
                      aria_label="Edit " + row["name"]),
            rx.button("Delete", size="1", variant="soft", color_scheme="red", on_click=s.ask_delete(row["id"]),
                      aria_label="Delete " + row["name"]),
            spacing="2"))),
    )


def _checkbox(label: str, name: str, checked) -> rx.Component:
    return rx.el.label(
        rx.hstack(rx.el.input(type="checkbox", name=name, id=f"field-{name}", default_checked=checked),
                  rx.text(label, size="2"), align="center", spacing="2"),
        html_for=f"field-{name}",
    )


def _editor() -> rx.Component:
    s = ActionsState
    return rx.card(
        rx.form(
            rx.grid(
                rx.vstack(
                    rx.heading(rx.cond(s.editing == "new", "New action", "Edit action"), size="4", as_="h2"),
                    text_field("Name", "name", s.errors, default_value=s.draft["name"]),
                    rx.vstack(native_select("When", "trigger", TRIGGER_OPTIONS, default_value=s.draft["trigger"]),
                              field_error(s.errors, "trigger"), spacing="1"),
                    rx.el.fieldset(
                        rx.el.legend("Send to", style={"font_weight": "500", "font_size": "14px"}),
                        rx.hstack(*[_checkbox(label, f"to_{role}", s.draft_roles.contains(role))
                                    for role, label in actions.ROLES.items()], spacing="4", wrap="wrap"),
                        field_error(s.errors, "recipients"),
                        style={"border": "none", "padding": "0", "margin": "0"},
                    ),
                    text_field("Staff email addresses", "staff_emails", s.errors,
                               default_value=s.draft["staff_emails"], placeholder="office@example.com",
                               hint="Comma-separated; used when “Staff addresses” is ticked"),
                    rx.vstack(
                        rx.el.label("Subject", html_for="field-subject",
                                    style={"font_weight": "500", "font_size": "14px"}),
                        rx.input(id="field-subject", name="subject", value=s.subject, on_change=s.set_subject, width="100%",
                                 max_length=300, aria_describedby="subject-error"),
                        field_error(s.errors, "subject"),
                        spacing="1", width="100%",
                    ),
                    rx.vstack(
                        rx.el.label("Email text", html_for="field-body",
                                    style={"font_weight": "500", "font_size": "14px"}),
                        rx.text_area(id="field-body", name="body", value=s.body, on_change=s.set_body, rows="12",
                                     width="100%", max_length=5000, aria_describedby="body-error"),
                        field_error(s.errors, "body"),
                        spacing="1", width="100%",
                    ),
                    _checkbox("Attach the certificate PDF", "attach_pdf", s.draft["attach_pdf"] == "yes"),
                    _checkbox("Enabled", "enabled", s.draft["enabled"] == "yes"),
                    rx.hstack(rx.button("Cancel", type="button", variant="soft", color_scheme="gray",
                                        on_click=s.cancel),
                              rx.button("Save action", type="submit"), spacing="3", justify="end", width="100%"),
                    spacing="3", width="100%", align="start",
                ),
                rx.vstack(
                    rx.heading("Preview", size="4", as_="h2"),
                    rx.text("With a sample certificate", size="1", color=rx.color("gray", 10)),
                    rx.el.section(
                        rx.cond(
                            s.preview_error != "",
                            rx.callout(s.preview_error, icon="triangle-alert", color_scheme="red", role="alert"),
                            rx.vstack(
                                rx.text(rx.text.strong("Subject: "), s.preview_subject, size="2"),
                                rx.separator(),
                                rx.text(s.preview_text, size="2",
                                        style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
                                spacing="2",
                            ),
                        ),
                        aria_label="Preview",
                        style={"width": "100%", "padding": "0.75rem", "border_radius": "6px",
                               "background": rx.color("gray", 2), "border": f"1px solid {rx.color('gray', 5)}"},
                    ),
                    rx.text("Placeholders", size="2", weight="medium"),
                    rx.el.ul(rx.foreach(PLACEHOLDER_HELP, lambda p: rx.el.li(
                        rx.code(p["name"], size="1"), " ", rx.text(p["meaning"], size="1", as_="span"))),
                        style={"padding_left": "1rem", "margin": "0"}),
                    rx.text("To write something only when a value is there: ",
                            rx.code("{% if message %}…{% else %}…{% endif %}", size="1"),
                            ". Loops and calculations are not available.", size="1", color_scheme="gray"),
                    spacing="2", width="100%", align="start",
                ),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="5",
                width="100%",
            ),
            key=s.form_key,
            on_submit=s.save,
            reset_on_submit=False,
            no_validate=True,
        ),
        width="100%",
    )


def _delete_dialog() -> rx.Component:
    s = ActionsState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this action?"),
            rx.alert_dialog.description(rx.text("“", s.delete_target["name"], "” will no longer send emails. ",
                                                "To pause it instead, switch it off.", size="2")),
            rx.hstack(rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                      rx.alert_dialog.action(rx.button("Delete action", color_scheme="red", on_click=s.delete)),
                      justify="end", spacing="3", padding_top="1rem"),
            max_width="460px",
        ),
        open=s.delete_target.contains("id"),
        on_open_change=s.set_delete_open,
    )


def actions_page() -> rx.Component:
    s = ActionsState
    return dashboard_page(
        "Actions",
        rx.text("Emails sent automatically when something happens to a certificate.", size="2",
                color=rx.color("gray", 11)),
        rx.cond(s.editing != "", _editor()),
        loading(s.loaded, rx.cond(
            s.rows.length() == 0,
            empty_state("zap", "No actions", "Add an action to email customers or staff automatically."),
            data_table("Actions", ("Name", "When", "Send to", "Attachment", "Enabled", ""), s.rows, _row_view),
        )),
        _delete_dialog(),
        actions=rx.cond(s.can_write, rx.button(rx.icon("plus", size=16), "New action", on_click=s.new_action)),
    )
