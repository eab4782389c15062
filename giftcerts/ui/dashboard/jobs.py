"""/dashboard/jobs: background work that failed or is waiting for a retry (an email the SMTP
server refused, a PDF that could not be rendered), with its error, and "Retry"."""

from __future__ import annotations

import json

import reflex as rx
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import format_local
from giftcerts.core.codes import mask_code
from giftcerts.core.errors import DomainError
from giftcerts.jobs.worker import retry_job
from giftcerts.models import Certificate, Job
from giftcerts.web import routes
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import data_table, empty_state, loading
from giftcerts.ui.components.layout import dashboard_page

KINDS = {"send_email": "Email", "render_pdf": "PDF", "dispatch": "Actions", "sign_in_alert": "Sign-in alert email"}
SHOWN = 100


def _what(job: Job) -> str:
    payload = json.loads(job.payload or "{}")
    if job.kind == "send_email":
        return f"Email to {payload.get('to', '?')}"
    if job.kind == "dispatch":
        return f"Actions for “{payload.get('trigger', '?').replace('_', ' ')}”"
    return KINDS.get(job.kind, job.kind)


class JobsState(AuthState):
    rows: list[dict[str, str]] = []
    failed: int = 0
    waiting: int = 0
    loaded: bool = False

    def _load(self, principal) -> None:
        ws = self._workspace(principal)
        with db.read_session() as session:
            problems = session.execute(
                select(Job, Certificate.code).join(Certificate, Certificate.id == Job.certificate_id, isouter=True)
                .where(Job.workspace_id == ws.id,
                       (Job.status == "failed") | ((Job.status == "queued") & (Job.last_error != "")))
                .order_by(Job.id.desc()).limit(SHOWN)
            ).all()
        self.rows = [{
            "id": str(job.id), "what": _what(job), "status": job.status,
            "certificate_id": str(job.certificate_id or ""), "code": mask_code(code) if code else "",
            "attempts": f"{job.attempts} of {job.max_attempts}",
            "error": (job.last_error or "").splitlines()[0][:300] if job.last_error else "",
            "next": "Gave up" if job.status == "failed" else "Next try " + format_local(job.run_after, ws.timezone),
        } for job, code in problems]
        self.failed = sum(1 for r in self.rows if r["status"] == "failed")
        self.waiting = len(self.rows) - self.failed
        self.loaded = True

    @rx.event
    def on_load(self):
        try:
            principal = self._guard()
        except DomainError as exc:
            self.rows = []
            return self._refuse(exc)
        self._load(principal)

    @rx.event
    def retry(self, job_id: str):
        try:
            principal = self._guard(write=True)
            with db.write_session() as session:
                retry_job(session, workspace_id=principal.workspace_id, job_id=job_id)
        except DomainError as exc:
            return self._refuse(exc)
        self._load(principal)
        return rx.toast.success("The job will run again in a moment.")


def _row(row: rx.Var) -> rx.Component:
    s = JobsState
    return rx.table.row(
        rx.table.cell(rx.vstack(
            rx.text(row["what"], size="2", weight="medium"),
            rx.cond(row["code"] != "", rx.link(rx.code(row["code"], variant="ghost", size="1"),
                                              href=routes.CERTIFICATES + "/" + row["certificate_id"])),
            spacing="1")),
        rx.table.cell(rx.cond(row["status"] == "failed", rx.badge("Failed", color_scheme="red", variant="soft"),
                              rx.badge("Retrying", color_scheme="amber", variant="soft"))),
        rx.table.cell(row["attempts"], white_space="nowrap"),
        rx.table.cell(rx.text(row["error"], size="1", style={"overflow_wrap": "anywhere"}), max_width="380px"),
        rx.table.cell(row["next"], white_space="nowrap"),
        rx.table.cell(rx.cond(s.can_write, rx.button("Retry", size="1", variant="soft", on_click=s.retry(row["id"]),
                                                     aria_label="Retry " + row["what"]))),
    )


def jobs_page() -> rx.Component:
    s = JobsState
    return dashboard_page(
        "Jobs",
        rx.text("Emails and PDFs are produced in the background and retried when they fail. "
                "Problems are listed here.", size="2", color=rx.color("gray", 11)),
        loading(s.loaded, rx.cond(
            s.rows.length() == 0,
            empty_state("circle-check", "Everything was delivered", "No background job is failing."),
            rx.vstack(
                rx.text(s.failed, " failed, ", s.waiting, " waiting for a retry", size="2"),
                data_table("Jobs", ("What", "Status", "Attempts", "Error", "", ""), s.rows, _row),
                width="100%",
            ),
        )),
        actions=rx.button(rx.icon("refresh-cw", size=16), "Refresh", variant="soft", on_click=s.on_load),
    )
