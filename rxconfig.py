"""Reflex configuration. Everything environment-specific comes from the environment."""

import os

import reflex as rx

from giftcerts.ui.theme import theme

PORT = int(os.environ.get("PORT", "3000"))
PUBLIC_URL = os.environ.get("GIFTCERTS_PUBLIC_URL", f"http://localhost:{PORT}").rstrip("/")

config = rx.Config(
    app_name="giftcerts",
    frontend_port=PORT,
    backend_port=PORT,
    api_url=PUBLIC_URL,
    deploy_url=PUBLIC_URL,
    # Only the app's own origin may open the event websocket or call the API with credentials.
    cors_allowed_origins=[PUBLIC_URL, f"http://127.0.0.1:{PORT}"] if "localhost" in PUBLIC_URL else [PUBLIC_URL],
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=theme())],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
