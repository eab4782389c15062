"""Browser tests: the real app in production mode, driven by Playwright in Debian's Chromium.

The app is built and started once per test run on its own port with its own SQLite
database, seeded with the demo workspace through the real CLI.
"""

from __future__ import annotations

import json
import re
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("GIFTCERTS_CHROMIUM", "/usr/bin/chromium")
BIN = Path(sys.executable).parent

expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """Start `reflex run --env prod` and yield its base URL, database URL and demo login."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = int(os.environ.get("GIFTCERTS_TEST_PORT") or _free_port())
    base = f"http://localhost:{port}"
    db_url = f"sqlite:///{tmp_path_factory.mktemp('app') / 'browser.db'}"
    env = {**os.environ, "REFLEX_DB_URL": db_url, "PORT": str(port), "GIFTCERTS_PUBLIC_URL": base,
           "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_USE_SYSTEM_BUN": "1"}
    env.pop("PYTEST_CURRENT_TEST", None)
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
        yield {"base": base, "db_url": db_url, **demo}
    finally:
        _stop(proc)
        log.close()


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


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_server, request):
    context = browser.new_context(base_url=app_server["base"], viewport={"width": 1280, "height": 860})
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/certificates/?$"), timeout=20_000)


@pytest.fixture
def owner(page, app_server) -> Page:
    sign_in(page, app_server["staff_email"], app_server["staff_password"])
    return page


@pytest.fixture
def viewer(page, app_server) -> Page:
    sign_in(page, app_server["viewer_email"], app_server["viewer_password"])
    return page
