"""The Reflex app: pages of the staff dashboard plus the HTTP routes. Thin by design:
business rules live in giftcerts.core."""

import reflex as rx
from starlette.applications import Starlette

from giftcerts.api import exports
from giftcerts.api.routes import routes as api_routes
from giftcerts.framing import frame_ancestors
from giftcerts.ui import routes
from giftcerts.ui.pages.api_keys import ApiKeysState, api_keys_page
from giftcerts.ui.pages.certificate_detail import CertificateState, certificate_page
from giftcerts.ui.pages.certificates import CertificatesState, certificates_page
from giftcerts.ui.pages.demo_checkout import DemoCheckoutState, demo_checkout_page
from giftcerts.ui.pages.login import LoginState, login_page
from giftcerts.ui.pages.new_certificate import NewCertificateState, new_certificate_page
from giftcerts.ui.pages.order_detail import OrderState, order_page
from giftcerts.ui.pages.orders import OrdersState, orders_page
from giftcerts.ui.pages.overview import OverviewState, overview_page
from giftcerts.ui.pages.settings import SettingsState, settings_page
from giftcerts.ui.pages.widget import WidgetState, widget_page


app = rx.App(
    # The API routes and the staff CSV exports, then a wrapper adding CSP frame-ancestors to the widget's pages.
    api_transformer=[Starlette(routes=api_routes() + exports.routes()), frame_ancestors],
    head_components=[rx.el.meta(name="referrer", content="same-origin"),
                     rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml")],
)


def _index() -> rx.Component:
    return rx.center(rx.spinner(), min_height="100vh")


app.add_page(_index, route="/", on_load=rx.redirect(routes.DASHBOARD), title="giftcerts")
app.add_page(login_page, route=routes.LOGIN, title="Sign in · giftcerts", on_load=LoginState.redirect_if_signed_in)
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
# Public pages: the redemption widget (authority: its session token) and the demo booking site.
app.add_page(widget_page, route=routes.WIDGET, title="Gift certificate", on_load=WidgetState.on_load)
app.add_page(demo_checkout_page, route=routes.DEMO_CHECKOUT, title="Checkout · Demo Adventures",
             on_load=DemoCheckoutState.on_load)
