"""The portal page's event handlers, called directly as any browser could call them.

The portal is public: whatever a crafted websocket message says, the server validates the
purchase itself, charges its own amount, enforces segment restrictions and a disabled portal.
"""

from __future__ import annotations

import inspect
import re

import pytest
import reflex as rx
import sqlalchemy as sa
from reflex.istate.data import RouterData

from giftcerts import db
from giftcerts.models import Certificate, Workspace
from giftcerts.ui.portal.confirmation import ConfirmationState
from giftcerts.ui.portal.purchase import PortalState
from tests.payments.conftest import DECLINED_CARD, card, form

import giftcerts.giftcerts  # noqa: F401  (registers every page State)


def portal(slug: str = "alpine", **query) -> PortalState:
    root = rx.State(_reflex_internal_init=True)
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    root.router = RouterData.from_router_data({
        "query": {"workspace": slug, **query}, "pathname": "/portal/[workspace]",
        "asPath": f"/portal/{slug}" + (f"?{qs}" if qs else ""), "headers": {}, "ip": "203.0.113.7"})
    return root.get_substate(PortalState.get_full_name().split("."))


def run(state, name: str, *args):
    result = type(state).event_handlers[name].fn(state, *args)
    events = list(result) if inspect.isgenerator(result) else [result]
    return [e for e in events if e is not None]


def count(url: str) -> int:
    with db.read_session(url) as s:
        return s.execute(sa.select(sa.func.count()).select_from(Certificate)).scalar_one()


def test_the_portal_shows_the_shop_its_open_types_and_amounts(shop):
    page = portal()
    run(page, "on_load")
    assert page.phase == "ready" and page.shop_name == "Alpine Tours" and page.currency == "USD"
    assert [t["name"] for t in page.types] == ["Travel credit"]  # the partner type stays hidden
    assert [p["label"] for p in page.presets] == ["$50", "$100"]
    assert page.bounds_text == "Any amount from $25.00 to $1,000.00"
    assert page.payments_ready


def test_the_custom_amount_is_checked_live(shop):
    page = portal()
    run(page, "on_load")
    run(page, "set_amount", "10")
    assert page.amount_error == "The minimum amount is $25.00."
    run(page, "set_amount", "80")
    assert page.amount_error == "" and page.summary == "$80.00 USD"


def test_entering_a_group_members_email_reveals_their_type(shop):
    page = portal()
    run(page, "on_load")
    run(page, "check_email", "ana@partner.example")
    assert [t["name"] for t in page.types] == ["Travel credit", "Partner credit"]
    run(page, "choose_type", str(shop["partner"].id))
    run(page, "check_email", "someone@else.example")  # changed their mind: the type goes away again
    assert [t["name"] for t in page.types] == ["Travel credit"]
    assert page.selected_type == str(shop["open"].id) and page.type_notice


def test_a_crafted_pay_with_a_tampered_amount_or_restricted_type_is_refused(shop, stripe_env):
    page = portal()
    run(page, "on_load")
    run(page, "pay", form(certificate_type=str(shop["open"].id), amount="0.50"))
    assert page.errors["amount"] == "The minimum amount is $25.00." and not page.working
    run(page, "pay", form(certificate_type=str(shop["partner"].id)))
    assert "reserved for selected customers" in page.pay_error
    # and a charge with no validated order behind it does nothing at all
    run(page, "charge", {"token": card(stripe_env).token_id, "card": "card_x"})
    assert count(shop["url"]) == 0


def test_the_whole_purchase_through_the_handlers(shop, stripe_env):
    page = portal()
    run(page, "on_load")
    events = run(page, "pay", form(certificate_type=str(shop["open"].id)))
    assert page.working and "createToken" in str(events[0])  # the browser is asked for a card token
    ref = card(stripe_env)
    events = run(page, "charge", {"token": ref.token_id, "card": ref.card_id})
    assert "/portal/alpine/confirmation?token=" in str(events[0])
    with db.read_session(shop["url"]) as s:
        cert = s.execute(sa.select(Certificate)).scalars().one()
    assert cert.status == "active"
    # The confirmation page shows it to whoever holds the link
    token = re.search(r"token=([A-Za-z0-9_-]+)", str(events[0])).group(1)
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        "query": {"workspace": "alpine", "token": token}, "pathname": "/portal/[workspace]/confirmation",
        "asPath": f"/portal/alpine/confirmation?token={token}", "headers": {}, "ip": "203.0.113.7"})
    conf = root.get_substate(ConfirmationState.get_full_name().split("."))
    ConfirmationState.event_handlers["on_load"].fn(conf)
    assert conf.phase == "ready" and conf.code.replace("-", "") == cert.code and conf.amount == "$100.00"
    assert conf.recipient_name == "Robin" and conf.expires


def number_format(shop, locale: str) -> None:
    with db.write_session(shop["url"]) as s:
        s.get(Workspace, shop["ws"].id).locale = locale


def test_a_decimal_comma_in_an_en_us_shop_is_refused_not_read_as_thousands(shop, stripe_env):
    page = portal()
    run(page, "on_load")
    run(page, "set_amount", "50,00")
    assert page.amount_error == ("“50,00” is not written the way this workspace writes numbers (1,234.56). "
                                 "Write the amount as 50.00.") and page.summary == ""
    run(page, "pay", form(certificate_type=str(shop["open"].id), amount="50,00"))
    assert "Write the amount as 50.00" in page.errors["amount"] and not page.working
    assert count(shop["url"]) == 0


def test_a_german_shop_reads_a_decimal_comma_through_the_whole_purchase(shop, stripe_env):
    number_format(shop, "de_DE")
    page = portal()
    run(page, "on_load")
    assert [p["value"] for p in page.presets] == ["50,00", "100,00"]  # read back as they are shown
    run(page, "set_amount", page.presets[0]["value"])
    assert page.amount_error == "" and page.summary == "$50.00 USD"
    run(page, "set_amount", "50.00")
    assert "Write the amount as 50,00" in page.amount_error
    run(page, "set_amount", "1.000,00")
    assert page.amount_error == "" and page.summary == "$1,000.00 USD"
    events = run(page, "pay", form(certificate_type=str(shop["open"].id), amount="1.000,00"))
    assert page.working and "createToken" in str(events[0])
    ref = card(stripe_env)
    run(page, "charge", {"token": ref.token_id, "card": ref.card_id})
    with db.read_session(shop["url"]) as s:
        cert = s.execute(sa.select(Certificate)).scalars().one()
    assert (cert.amount_cents, cert.status) == (100000, "active")


def test_a_declined_card_shows_stripes_message(shop, stripe_env):
    page = portal()
    run(page, "on_load")
    run(page, "pay", form(certificate_type=str(shop["open"].id)))
    ref = card(stripe_env, DECLINED_CARD)
    run(page, "charge", {"token": ref.token_id, "card": ref.card_id})
    assert page.pay_error == "Your card was declined." and not page.working


def test_a_disabled_portal_shows_not_available_and_refuses_payment(shop, stripe_env):
    with db.write_session(shop["url"]) as s:
        s.get(Workspace, shop["ws"].id).portal_enabled = False
    page = portal()
    run(page, "on_load")
    assert page.phase == "disabled" and page.types == []
    run(page, "pay", form(certificate_type=str(shop["open"].id)))
    assert page.pay_error == "Gift certificates are not on sale here at the moment."
    assert count(shop["url"]) == 0


def test_an_unknown_shop_is_a_friendly_not_found(shop):
    page = portal("no-such-shop")
    run(page, "on_load")
    assert page.phase == "not_found"


@pytest.mark.parametrize("token", ["", "x", "a" * 500])
def test_a_confirmation_cannot_be_reached_without_its_link(shop, token):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        "query": {"workspace": "alpine", "token": token}, "pathname": "/portal/[workspace]/confirmation",
        "asPath": f"/portal/alpine/confirmation?token={token}", "headers": {}, "ip": "203.0.113.7"})
    conf = root.get_substate(ConfirmationState.get_full_name().split("."))
    ConfirmationState.event_handlers["on_load"].fn(conf)
    assert conf.phase == "not_found" and conf.code == ""
