"""Portal benchmark: first load of /portal/demo next to Reflex's blank template, and the time from
clicking Pay to the confirmation page showing the code (localstripe, card 4242).

Both apps run in production mode (`reflex run --env prod`, one port) on this machine, measured in
the same run with the same headless Chromium; each load uses a fresh browser context (cold cache).

    .venv/bin/python bench/portal.py [--loads 15] [--purchases 20]

Prints one table; also writes test-artifacts/bench-portal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from giftcerts.payments import devstripe  # noqa: E402

BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("GIFTCERTS_CHROMIUM", "/usr/bin/chromium")
BLANK_TEMPLATE = Path(__import__("reflex_base").__file__).parent / ".templates" / "apps" / "blank" / "code" / "blank.py"


def _env(port: int, **extra) -> dict[str, str]:
    return {**os.environ, "PORT": str(port), "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_USE_SYSTEM_BUN": "1",
            "PYTHONPATH": str(ROOT), **extra}


def _serve(cwd: Path, port: int, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "reflex"), "run", "--env", "prod", "--frontend-port", str(port),
                             "--backend-port", str(port)], cwd=cwd, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait(url: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited ({proc.returncode})")
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not come up")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def _blank_app(work: Path) -> Path:
    app = work / "blank"
    (app / "blank").mkdir(parents=True)
    (app / "blank" / "__init__.py").write_text("")
    shutil.copy(BLANK_TEMPLATE, app / "blank" / "blank.py")
    (app / "rxconfig.py").write_text(
        "import os\nimport reflex as rx\n\nport = int(os.environ['PORT'])\n"
        "config = rx.Config(app_name='blank', frontend_port=port, backend_port=port, telemetry_enabled=False,\n"
        "                   api_url=f'http://localhost:{port}', deploy_url=f'http://localhost:{port}',\n"
        "                   disable_plugins=[rx.plugins.SitemapPlugin])\n")
    return app


def _first_loads(browser, url: str, ready: str, n: int) -> dict:
    """Navigation start to `ready` visible (ms), and the browser's own DOMContentLoaded / load."""
    ready_ms, dcl, load = [], [], []
    for _ in range(n):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        expect(page.locator(ready).first).to_be_visible(timeout=60_000)
        ready_ms.append((time.perf_counter() - start) * 1000)
        timing = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
        nav = json.loads(timing)
        dcl.append(nav["domContentLoadedEventEnd"])
        load.append(nav["loadEventEnd"])
        context.close()
    return {"ready_median_ms": round(statistics.median(ready_ms), 1),
            "dom_content_loaded_median_ms": round(statistics.median(dcl), 1),
            "load_median_ms": round(statistics.median(load), 1), "loads": n}


def _purchases(browser, base: str, n: int) -> dict:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    timings = []
    for i in range(n):
        page.goto("/portal/demo")
        card = page.locator("#gc-card-element")
        expect(card.locator("input[placeholder=number]")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="$100", exact=True).click()
        page.get_by_label("Your name").fill("Bench Buyer")
        page.get_by_label("Your email").fill(f"bench{i}.{time.time_ns()}@example.com")
        page.get_by_label("Recipient name").fill("Robin")
        page.get_by_label("Recipient email").fill("robin@example.com")
        for placeholder, value in (("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "34"),
                                   ("cvc", "123"), ("postal_code", "10001")):
            card.locator(f"input[placeholder={placeholder}]").fill(value)
        start = time.perf_counter()
        page.get_by_role("button", name="Pay").click()
        expect(page.locator("#certificate-code")).to_have_text(
            __import__("re").compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$"), timeout=30_000)
        timings.append((time.perf_counter() - start) * 1000)
    context.close()
    return {"purchases": n, "median_ms": round(statistics.median(timings), 1),
            "p90_ms": round(sorted(timings)[max(0, int(0.9 * n) - 1)], 1),
            "min_ms": round(min(timings), 1), "max_ms": round(max(timings), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--purchases", type=int, default=20)
    args = parser.parse_args()
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    app_port, blank_port, stripe_port = devstripe.free_port(), devstripe.free_port(), devstripe.free_port()
    base = f"http://localhost:{app_port}"
    stripe_proc = app = blank = None
    try:
        stripe_proc, stripe_env = devstripe.start(port=stripe_port, app_url=base,
                                                  log_path=artifacts / "bench-localstripe.log")
        env = _env(app_port, REFLEX_DB_URL=f"sqlite:///{work / 'bench.db'}", GIFTCERTS_PUBLIC_URL=base,
                   GIFTCERTS_PORTAL_PAYMENT_LIMIT="1000/minute", **stripe_env)
        subprocess.run([str(BIN / "giftcerts"), "seed-demo", "--json"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        print("starting the app and the blank template (production builds)…", file=sys.stderr)
        app = _serve(ROOT, app_port, env, artifacts / "bench-app.log")
        blank_dir = _blank_app(work)
        blank = _serve(blank_dir, blank_port, _env(blank_port, PYTHONPATH=str(blank_dir)),
                       artifacts / "bench-blank.log")
        _wait(f"{base}/portal/demo", app)
        _wait(f"http://localhost:{blank_port}/", blank)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            # warm both servers once (the first request compiles nothing, but fills OS caches)
            _first_loads(browser, f"http://localhost:{blank_port}/", "text=Welcome to Reflex!", 1)
            _first_loads(browser, f"{base}/portal/demo", "#gc-card-element input[placeholder=number]", 1)
            blank_load = _first_loads(browser, f"http://localhost:{blank_port}/", "text=Welcome to Reflex!",
                                      args.loads)
            portal_form = _first_loads(browser, f"{base}/portal/demo", "text=Give the gift of travel", args.loads)
            portal_card = _first_loads(browser, f"{base}/portal/demo",
                                       "#gc-card-element input[placeholder=number]", args.loads)
            pay = _purchases(browser, base, args.purchases)
            browser.close()
    finally:
        _stop(app)
        _stop(blank)
        _stop(stripe_proc)
        shutil.rmtree(work, ignore_errors=True)
    result = {"blank_template": blank_load, "portal_form_visible": portal_form, "portal_card_ready": portal_card,
              "pay_to_confirmation": pay}
    (artifacts / "bench-portal.json").write_text(json.dumps(result, indent=2))
    print(f"\nFirst load, median of {args.loads} cold loads (navigation start -> content visible):")
    print(f"  Reflex blank template          {blank_load['ready_median_ms']:8.1f} ms   "
          f"(DOMContentLoaded {blank_load['dom_content_loaded_median_ms']:.1f} ms, "
          f"load {blank_load['load_median_ms']:.1f} ms)")
    print(f"  /portal/demo form visible      {portal_form['ready_median_ms']:8.1f} ms   "
          f"(DOMContentLoaded {portal_form['dom_content_loaded_median_ms']:.1f} ms, "
          f"load {portal_form['load_median_ms']:.1f} ms)")
    print(f"  /portal/demo card field ready  {portal_card['ready_median_ms']:8.1f} ms")
    print(f"\nPay -> confirmation with the code, {pay['purchases']} purchases (4242, localstripe):")
    print(f"  median {pay['median_ms']:.1f} ms, p90 {pay['p90_ms']:.1f} ms, "
          f"min {pay['min_ms']:.1f} ms, max {pay['max_ms']:.1f} ms")


if __name__ == "__main__":
    main()
