"""Shared fixtures: the same core tests run on SQLite and on the local PostgreSQL.

PostgreSQL (127.0.0.1:5432, user postgres) is required, not optional: a run that cannot
reach it fails rather than silently testing SQLite alone. Each run uses a throwaway
database that is dropped at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from hypothesis import settings as hypothesis_settings

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from giftcerts import db, migrate

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
BIN = Path(sys.executable).parent
# Property tests judge answers, not speed: no per-example deadline (a loaded CI core is slow).
hypothesis_settings.register_profile("giftcerts", deadline=None)
hypothesis_settings.load_profile("giftcerts")

PG_ADMIN_URL = os.environ.get("GIFTCERTS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'core.db'}"
    migrate.upgrade(url)
    return url


@contextmanager
def throwaway_postgres(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        db.dispose_all()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url():
    with throwaway_postgres("giftcerts_test") as url:
        yield url


def _wipe(url: str) -> None:
    with db.write_session(url) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(sa.delete(table))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request):
    """A migrated, empty database; each test runs once per backend."""
    url = request.getfixturevalue(f"{request.param}_url")
    _wipe(url)
    yield url
    _wipe(url)


@pytest.fixture
def sqlite_only_url(sqlite_url):
    _wipe(sqlite_url)
    yield sqlite_url
    _wipe(sqlite_url)


# --- the running app (browser tests, tests against the live server) ----------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe():
    """localstripe (a fake Stripe server) on a free port for the whole run; yields the STRIPE_*
    environment that points the app at it (the webhook is registered by whoever serves it)."""
    from giftcerts.payments import devstripe

    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    secret = "whsec_" + secrets.token_hex(16)
    proc, env = devstripe.start(port=port, app_url="http://localhost:9", log_path=ARTIFACTS / "localstripe.log",
                                webhook_secret=secret)
    try:
        yield env
    finally:
        if proc is not None:
            _stop(proc)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, localstripe):
    """Start `reflex run --env prod` once per run on a free port with its own SQLite database,
    seeded through the real CLI; yields its base URL, database URL and the demo login/API key."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = int(os.environ.get("GIFTCERTS_TEST_PORT") or _free_port())
    base = f"http://localhost:{port}"
    db_url = f"sqlite:///{tmp_path_factory.mktemp('app') / 'browser.db'}"
    env = {**os.environ, "REFLEX_DB_URL": db_url, "PORT": str(port), "GIFTCERTS_PUBLIC_URL": base,
           "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_USE_SYSTEM_BUN": "1",
           # the app under test is this checkout's code, whatever the venv's editable install says
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           # card payments against localstripe (its webhook is registered to this app below)
           **localstripe, "GIFTCERTS_PORTAL_PAYMENT_LIMIT": "1000/minute",
           # the whole browser suite signs in from one address more often than a person would
           "GIFTCERTS_SIGN_IN_LIMIT": "1000/minute",
           # the stand-in booking site the widget tests embed it in
           "GIFTCERTS_DEMO_CHECKOUT": "on"}
    env.pop("PYTEST_CURRENT_TEST", None)
    # Email from the app (its in-app worker) goes to a local SMTP sink; tests read the .eml files.
    from giftcerts.notify.sink import MailSink
    mail_dir = tmp_path_factory.mktemp("mail")
    sink = MailSink(mail_dir, port=_free_port()).start()
    env["GIFTCERTS_SMTP_URL"] = sink.url
    env["GIFTCERTS_JOB_BACKOFF_SECONDS"] = "1"
    # The in-app expiry sweep runs once at start-up and then not during the run: tests that show
    # the clock refusing an expired certificate before the sweep has moved it must not race it.
    env["GIFTCERTS_SWEEP_SECONDS"] = "86400"
    seeded = subprocess.run([str(BIN / "giftcerts"), "seed-demo", "--json"], env=env, cwd=ROOT, check=True,
                            capture_output=True, text=True)
    demo = json.loads(seeded.stdout.strip().splitlines()[-1])
    log = open(ARTIFACTS / "app-server.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "reflex"), "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_until_up(base, proc)
        from giftcerts.payments import devstripe
        devstripe.register_webhook(localstripe["STRIPE_API_BASE"], base, localstripe["STRIPE_WEBHOOK_SECRET"])
        yield {"base": base, "db_url": db_url, "stripe": localstripe, "mail_dir": mail_dir, **demo}
    finally:
        _stop(proc)
        log.close()
        sink.stop()


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_until_up(base: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}; see test-artifacts/app-server.log")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200 and \
                    httpx.get(f"{base}/login", timeout=5, follow_redirects=True).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError("the app did not start in time; see test-artifacts/app-server.log")




@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main
    thread for as long as its session-wide browser lives, and tests that drive asyncio
    themselves (asyncio.run) cannot start a loop of their own beside it."""
    # The live `giftcerts serve` test runs first: it builds the project's .web for its own port,
    # which must happen before the session's app server builds and serves it, not while.
    items.sort(key=lambda item: -1 if item.fspath.basename == "test_serve_live.py"
               else int("tests/browser/" in str(item.fspath)))
