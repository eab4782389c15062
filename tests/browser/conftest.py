"""Browser tests: the real app in production mode (the `app_server` fixture in
tests/conftest.py), driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import re
import os

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ARTIFACTS

CHROMIUM = os.environ.get("GIFTCERTS_CHROMIUM", "/usr/bin/chromium")

expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


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
    page.wait_for_url(re.compile(r"/dashboard/?$"), timeout=20_000)


@pytest.fixture
def owner(page, app_server) -> Page:
    sign_in(page, app_server["staff_email"], app_server["staff_password"])
    return page


@pytest.fixture
def certificates_list(owner: Page) -> Page:
    """Signed in as an owner, on the Certificates list (signing in opens the Overview)."""
    owner.get_by_role("navigation").get_by_role("link", name="Certificates").click()
    expect(owner.get_by_role("heading", name="Certificates")).to_be_visible()
    return owner


@pytest.fixture
def viewer(page, app_server) -> Page:
    sign_in(page, app_server["viewer_email"], app_server["viewer_password"])
    return page
