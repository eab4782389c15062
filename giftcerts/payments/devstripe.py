"""localstripe for development and tests: card payments without Stripe keys.

`python -m giftcerts.payments.devstripe --port 8420` runs localstripe with its on-disk
snapshot turned off (upstream pickles every object to one fixed file under /tmp, shared by
every instance on the machine); `start()` runs it in the background, waits for it, registers
the app's webhook and returns the environment that points the app at it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from giftcerts.payments.gateway import EVENTS

SECRET_KEY = "sk_test_localstripe"
PUBLISHABLE_KEY = "pk_test_localstripe"
WEBHOOK_ID = "giftcerts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/js.stripe.com/v3/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(base: str, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"localstripe exited with {proc.returncode}")
        if is_up(base):
            return
        time.sleep(0.2)
    raise RuntimeError(f"localstripe did not answer at {base}")


def register_webhook(base: str, app_url: str, secret: str) -> None:
    """Tell localstripe to deliver payment events, signed with `secret`, to the app."""
    r = httpx.post(f"{base}/_config/webhooks/{WEBHOOK_ID}", timeout=5,
                   json={"url": app_url.rstrip("/") + "/webhooks/stripe", "secret": secret, "events": EVENTS})
    r.raise_for_status()


def environment(base: str, webhook_secret: str) -> dict[str, str]:
    return {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_API_BASE": base, "STRIPE_JS_URL": f"{base}/js.stripe.com/v3/",
            "STRIPE_WEBHOOK_SECRET": webhook_secret}


def start(*, port: int, app_url: str, log_path: Path | None = None,
          webhook_secret: str | None = None) -> tuple[subprocess.Popen | None, dict[str, str]]:
    """Start localstripe on `port` (or reuse one already there) and register the app's webhook.

    Returns the process (None when reused) and the environment for the app."""
    base = f"http://localhost:{port}"
    proc = None
    if not is_up(base):
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        proc = subprocess.Popen([sys.executable, "-m", "giftcerts.payments.devstripe", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                    filter(None, [str(Path(__file__).resolve().parents[2]),
                                                  os.environ.get("PYTHONPATH")]))})
        wait_ready(base, proc)
    secret = webhook_secret or "whsec_" + secrets.token_hex(16)
    register_webhook(base, app_url, secret)
    return proc, environment(base, secret)


def serve(port: int) -> None:
    import localstripe.resources as resources
    from localstripe import server

    resources.Store.dump_to_disk = lambda self: None  # keep everything in memory
    sys.argv = ["localstripe", "--port", str(port), "--from-scratch"]
    server.start()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="localstripe without its shared on-disk snapshot")
    parser.add_argument("--port", type=int, default=8420)
    serve(parser.parse_args().port)
