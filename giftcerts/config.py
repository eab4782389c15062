"""Settings read from the environment (a `.env` file in the working directory may set them)."""

import os
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path.cwd() / ".env", override=False)

DEFAULT_DB_URL = "sqlite:///giftcerts.db"


def db_url() -> str:
    return os.environ.get("REFLEX_DB_URL") or DEFAULT_DB_URL


def redis_url() -> str | None:
    return os.environ.get("REFLEX_REDIS_URL") or None


def demo_checkout_enabled() -> bool:
    """GIFTCERTS_DEMO_CHECKOUT=on: serve /demo/checkout, the stand-in booking site (`make run` and the
    browser tests). Off by default, so no public page opens orders or API keys in production."""
    return os.environ.get("GIFTCERTS_DEMO_CHECKOUT", "").strip().lower() in {"1", "on", "true", "yes"}


def webhooks_allow_private() -> bool:
    """GIFTCERTS_WEBHOOKS_ALLOW_PRIVATE=on, for development and tests only: webhook endpoints on
    loopback or private addresses (and plain http). Off by default, so an endpoint can never be
    used to reach the operator's own network."""
    return os.environ.get("GIFTCERTS_WEBHOOKS_ALLOW_PRIVATE", "").strip().lower() in {"1", "on", "true", "yes"}


def public_url() -> str:
    port = os.environ.get("PORT", "3000")
    return (os.environ.get("GIFTCERTS_PUBLIC_URL") or f"http://localhost:{port}").rstrip("/")


# How long a staff sign-in lasts without activity, and at most.
SESSION_IDLE_HOURS = int(os.environ.get("GIFTCERTS_SESSION_IDLE_HOURS", "12"))
SESSION_MAX_DAYS = int(os.environ.get("GIFTCERTS_SESSION_MAX_DAYS", "7"))
