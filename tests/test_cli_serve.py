"""`giftcerts serve` (production: N app processes) refuses what cannot work, and `giftcerts
worker` runs background jobs in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from giftcerts import cli, db, migrate
from giftcerts.models import Job
from tests.conftest import ROOT
from tests.factories import make_certificate, make_workspace

GIFTCERTS = str(Path(sys.executable).parent / "giftcerts")
PG = "postgresql://postgres@127.0.0.1:5432/giftcerts"
REDIS = "redis://127.0.0.1:6379/0"


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("REFLEX_REDIS_URL", "REFLEX_DB_URL", "GIFTCERTS_WORKER")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([GIFTCERTS, *args], env={**base, **env}, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def plan(argv: list[str], environ: dict[str, str], cwd=ROOT):
    return cli.serve_plan(cli.build_parser().parse_args(["serve", *argv]), environ, cwd)


def test_several_processes_without_redis_are_refused_with_the_reason():
    done = run_cli("serve", "--workers", "2", env={"REFLEX_DB_URL": PG})
    assert done.returncode == 2
    assert "refusing to start 2 app processes without Redis: set REFLEX_REDIS_URL" in done.stderr
    assert "session" in done.stderr and "budget" in done.stderr  # says why, not only what
    assert done.stdout == ""


def test_several_processes_on_sqlite_are_refused(tmp_path):
    done = run_cli("serve", "--workers", "2", env={"REFLEX_DB_URL": f"sqlite:///{tmp_path / 'x.db'}",
                                                   "REFLEX_REDIS_URL": REDIS})
    assert done.returncode == 2 and "on SQLite" in done.stderr and "PostgreSQL" in done.stderr


def test_the_plan_for_production_runs_reflex_in_prod_mode_with_n_processes_and_no_in_app_worker():
    command, env = plan(["--workers", "3", "--port", "8080"], {"REFLEX_DB_URL": PG, "REFLEX_REDIS_URL": REDIS})
    assert command[1:] == ["run", "--env", "prod", "--frontend-port", "8080", "--backend-port", "8080"]
    assert Path(command[0]).name == "reflex"
    assert env["GRANIAN_WORKERS"] == "3" and env["PORT"] == "8080"
    assert env["GIFTCERTS_WORKER"] == "off"
    assert Path(env["PROMETHEUS_MULTIPROC_DIR"]).is_dir()  # metrics add up across the processes
    os.rmdir(env["PROMETHEUS_MULTIPROC_DIR"])
    _, env = plan(["--workers", "1", "--in-app-worker"], {"REFLEX_DB_URL": PG})
    assert env["GIFTCERTS_WORKER"] == "on" and "PROMETHEUS_MULTIPROC_DIR" not in env


def test_the_default_is_one_process_per_cpu_where_several_can_work_else_one(tmp_path):
    _, env = plan([], {"REFLEX_DB_URL": PG, "REFLEX_REDIS_URL": REDIS})
    assert env["GRANIAN_WORKERS"] == str(os.cpu_count())
    if "PROMETHEUS_MULTIPROC_DIR" in env:
        os.rmdir(env["PROMETHEUS_MULTIPROC_DIR"])
    assert plan([], {"REFLEX_DB_URL": PG})[1]["GRANIAN_WORKERS"] == "1"
    assert plan([], {"REFLEX_DB_URL": f"sqlite:///{tmp_path / 'x.db'}", "REFLEX_REDIS_URL": REDIS})[1][
        "GRANIAN_WORKERS"] == "1"


def test_serve_needs_the_project_folder(tmp_path):
    with pytest.raises(SystemExit) as refused:
        plan(["--workers", "1"], {"REFLEX_DB_URL": PG}, cwd=tmp_path)
    assert refused.value.code == 2


def test_worker_once_runs_the_queued_jobs_and_exits(tmp_path):
    from tests.jobs.conftest import free_port
    from giftcerts.notify.sink import MailSink

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    migrate.upgrade(url)
    with db.write_session(url) as s:
        make_certificate(s, make_workspace(s))  # its PDF and emails are queued
    with db.read_session(url) as s:
        assert s.exec(select(Job).where(Job.status == "queued")).all()
    sink = MailSink(tmp_path / "mail", port=free_port()).start()
    try:
        done = run_cli("worker", "--once", "--no-sweeps", "--poll", "0.05",
                       env={"REFLEX_DB_URL": url, "GIFTCERTS_SMTP_URL": sink.url, "GIFTCERTS_LOG_FORMAT": "json"},
                       timeout=120)
    finally:
        sink.stop()
    assert done.returncode == 0, done.stderr
    with db.read_session(url) as s:
        statuses = s.execute(sa.select(Job.kind, Job.status)).all()
    assert statuses and all(status == "done" for _, status in statuses), statuses
    assert {"render_pdf", "send_email"} <= {kind for kind, _ in statuses}
    assert len(list((tmp_path / "mail").glob("*.eml"))) >= 1
    assert '"logger": "giftcerts.worker"' in done.stderr  # its log lines are JSON as configured
