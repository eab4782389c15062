"""The Reflex app: every page (the staff dashboard, the widget, the portal: giftcerts/ui) at
its route (giftcerts/web/routes.py), plus the HTTP routes. Thin by design: business rules
live in giftcerts.core."""

import asyncio
import logging
import os
from datetime import timedelta

import reflex as rx
from starlette.applications import Starlette

from giftcerts.api import exports, staff_sessions
from giftcerts.api.routes import routes as api_routes
from giftcerts.documents.routes import routes as document_routes
from giftcerts.jobs.inapp import run_worker_in_app
from giftcerts.ops.metrics import request_metrics
from giftcerts.payments import webhooks as stripe_webhooks
from giftcerts.ui import live
from giftcerts.ui.dashboard.actions import ActionsState, actions_page
from giftcerts.ui.dashboard.api_keys import ApiKeysState, api_keys_page
from giftcerts.ui.dashboard.webhooks import WebhooksState, webhooks_page
from giftcerts.ui.dashboard.certificate_detail import CertificateState, certificate_page
from giftcerts.ui.dashboard.certificate_types import CertificateTypesState, certificate_types_page
from giftcerts.ui.dashboard.certificates import CertificatesState, certificates_page
from giftcerts.ui.dashboard.expirations import ExpirationsState, expirations_page
from giftcerts.ui.dashboard.jobs import JobsState, jobs_page
from giftcerts.ui.dashboard.login import LoginState, login_page
from giftcerts.ui.dashboard.new_certificate import NewCertificateState, new_certificate_page
from giftcerts.ui.dashboard.order_detail import OrderState, order_page
from giftcerts.ui.dashboard.orders import OrdersState, orders_page
from giftcerts.ui.dashboard.overview import OverviewState, overview_page
from giftcerts.ui.dashboard.segments import SegmentsState, segments_page
from giftcerts.ui.dashboard.settings import SettingsState, settings_page
from giftcerts.ui.head import head_components
from giftcerts.ui.not_found import not_found_page
from giftcerts.ui.portal.confirmation import ConfirmationState, confirmation_page
from giftcerts.ui.portal.purchase import PortalState, portal_page
from giftcerts.ui.session_boundary import SessionBoundary
from giftcerts.ui.widget.demo_checkout import DemoCheckoutState, demo_checkout_page
from giftcerts.ui.widget.redeem import WidgetState, widget_page
from giftcerts.web import routes
from giftcerts.web.framing import frame_ancestors
from giftcerts.web.requestlog import configure_logging, request_ids


app = rx.App(
    # Staff sign-in and sign-out, Stripe webhooks, the JSON API, PDF downloads and the staff CSV
    # exports, then a wrapper adding CSP frame-ancestors to the widget's pages, the request metrics
    # and (outermost, so that everything inside logs with it) the request id and access log.
    api_transformer=[Starlette(routes=[*staff_sessions.routes(), *stripe_webhooks.routes(), *api_routes(),
                                       *document_routes(), *exports.routes()]), frame_ancestors, request_metrics,
                     request_ids],
    head_components=head_components(),
)
# Before every event: a tab's page states never outlive the staff session they were filled for.
app.add_middleware(SessionBoundary(), index=0)
live.serve(app)  # live pages stop polling once their tab's socket is gone


@app.register_lifespan_task
def _structured_logs() -> None:
    """Set up when the server starts, not on import: the tests import the app too."""
    configure_logging()


def _index() -> rx.Component:
    return rx.center(rx.spinner(), min_height="100vh")


app.add_page(not_found_page, route="404", title="Page not found · giftcerts")
app.add_page(_index, route="/", on_load=rx.redirect(routes.DASHBOARD), title="giftcerts")
app.add_page(login_page, route=routes.LOGIN, title="Sign in · giftcerts",
             on_load=[LoginState.redirect_if_signed_in, LoginState.show_outcome])
app.add_page(overview_page, route=routes.DASHBOARD, title="Overview · giftcerts",
             on_load=[OverviewState.require_login, OverviewState.on_load])
app.add_page(certificates_page, route=routes.CERTIFICATES, title="Certificates · giftcerts",
             on_load=[CertificatesState.require_login, CertificatesState.on_load])
app.add_page(new_certificate_page, route=routes.NEW_CERTIFICATE, title="New certificate · giftcerts",
             on_load=[NewCertificateState.require_login, NewCertificateState.on_load])
app.add_page(certificate_page, route=routes.CERTIFICATE, title="Certificate · giftcerts",
             on_load=[CertificateState.require_login, CertificateState.on_load])
app.add_page(settings_page, route=routes.SETTINGS, title="Settings · giftcerts",
             on_load=[SettingsState.require_login, SettingsState.on_load])
app.add_page(orders_page, route=routes.ORDERS, title="Orders · giftcerts",
             on_load=[OrdersState.require_login, OrdersState.on_load])
app.add_page(order_page, route=routes.ORDER, title="Order · giftcerts",
             on_load=[OrderState.require_login, OrderState.on_load])
app.add_page(api_keys_page, route=routes.API_KEYS, title="API keys · giftcerts",
             on_load=[ApiKeysState.require_login, ApiKeysState.on_load])
app.add_page(webhooks_page, route=routes.WEBHOOKS, title="Webhooks · giftcerts",
             on_load=[WebhooksState.require_login, WebhooksState.on_load])
app.add_page(certificate_types_page, route=routes.CERTIFICATE_TYPES, title="Certificate types · giftcerts",
             on_load=[CertificateTypesState.require_login, CertificateTypesState.on_load])
app.add_page(segments_page, route=routes.SEGMENTS, title="Segments · giftcerts",
             on_load=[SegmentsState.require_login, SegmentsState.on_load])
app.add_page(expirations_page, route=routes.EXPIRATIONS, title="Expirations · giftcerts",
             on_load=[ExpirationsState.require_login, ExpirationsState.on_load])
app.add_page(actions_page, route=routes.ACTIONS, title="Actions · giftcerts",
             on_load=[ActionsState.require_login, ActionsState.on_load])
app.add_page(jobs_page, route=routes.JOBS, title="Jobs · giftcerts",
             on_load=[JobsState.require_login, JobsState.on_load])
# Public pages: the redemption widget (authority: its session token) and the demo booking site.
app.add_page(widget_page, route=routes.WIDGET, title="Gift certificate", on_load=WidgetState.on_load)
app.add_page(demo_checkout_page, route=routes.DEMO_CHECKOUT, title="Checkout · Demo Adventures",
             on_load=DemoCheckoutState.on_load)
# The purchase portal and its confirmation (authority: the unguessable token in the link).
app.add_page(portal_page, route=routes.PORTAL, title="Gift certificates", on_load=PortalState.on_load)
app.add_page(confirmation_page, route=routes.PORTAL_CONFIRMATION, title="Your gift certificate",
             on_load=ConfirmationState.on_load)

# Portal checkouts nobody finished: resolved with Stripe and cancelled after this long; voids
# whose refund was left in progress (a crash while Stripe was asked) are finished after it too.
PENDING_TIMEOUT = timedelta(minutes=int(os.environ.get("GIFTCERTS_PENDING_TIMEOUT_MINUTES", "60")))


@app.register_lifespan_task
async def _cleanup_abandoned_checkouts():
    from giftcerts.payments import checkout

    while True:
        await asyncio.sleep(300)
        try:
            counts = await asyncio.to_thread(checkout.cleanup_abandoned, older_than=PENDING_TIMEOUT)
            if any(counts.values()):
                logging.getLogger("giftcerts").info("abandoned checkouts: %s", counts)
            counts = await asyncio.to_thread(checkout.finish_stale_refunds, older_than=PENDING_TIMEOUT)
            if any(counts.values()):
                logging.getLogger("giftcerts").info("refunds left in progress: %s", counts)
        except Exception:  # noqa: BLE001  (try again next round)
            logging.getLogger("giftcerts").exception("cleaning up abandoned checkouts failed")


app.register_lifespan_task(run_worker_in_app)
