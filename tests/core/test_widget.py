"""The checkout widget's rules: a widget session token reaches one order only, for 30 minutes;
the customer can apply a certificate and remove it again before paying; the booking page is
told about it; only the workspace's embed origins may frame the widget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, redemption, widget
from giftcerts.core.errors import InvalidCode, InvalidTransition
from giftcerts.core.widget import WidgetSessionExpired
from giftcerts.models import Certificate, Order
from tests.factories import make_certificate, make_workspace


@pytest.fixture
def shop(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, embed_origins="https://booking.example.com http://localhost:3000")
        order = redemption.create_order(s, ws, reference="BK-1", total_cents=48000)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id)
        cert = make_certificate(s, ws, amount="100")
    return {"url": db_url, "ws": ws, "order": order, "token": token, "cert": cert}


def test_a_certificate_is_applied_to_the_sessions_order_and_the_booking_page_is_told(shop):
    with db.write_session(shop["url"]) as s:
        checkout, cert = widget.apply_code(s, shop["token"], shop["cert"].code.lower())
    assert checkout.order.id == shop["order"].id
    assert checkout.order.amount_due_cents == 38000 and checkout.applied_cents == 10000
    assert cert.status == "redeemed"
    message = widget.message_for_host(checkout, cert, action="applied")
    assert message == {"type": "giftcerts:redeemed", "action": "applied", "order_id": shop["order"].id,
                       "amount_applied_cents": 10000, "amount_due_cents": 38000, "currency": "USD",
                       "code_last4": cert.code[-4:]}
    assert widget.host_origins(checkout) == ["https://booking.example.com", "http://localhost:3000"]
    with db.read_session(shop["url"]) as s:
        kinds = [(a.kind, a.actor) for a in activity.history(s, workspace_id=shop["ws"].id, certificate_id=cert.id)]
    assert kinds[-1] == ("Redeemed", "Checkout widget")


def test_removing_it_before_paying_restores_the_amount_due_and_the_certificate(shop):
    with db.write_session(shop["url"]) as s:
        checkout, _ = widget.apply_code(s, shop["token"], shop["cert"].code)
        red_id = checkout.applied[0][0].id
    with db.write_session(shop["url"]) as s:
        checkout, cert = widget.remove_certificate(s, shop["token"], str(red_id))
    assert checkout.order.amount_due_cents == 48000 and checkout.applied == []
    assert cert.status == "active"
    assert widget.message_for_host(checkout, cert, action="removed")["amount_applied_cents"] == 0
    with db.read_session(shop["url"]) as s:
        last = activity.history(s, workspace_id=shop["ws"].id, certificate_id=cert.id)[-1]
    assert (last.kind, last.actor) == ("Released", "Checkout widget")
    assert activity.describe(last, shop["ws"].timezone).startswith(
        "Removed from order BK-1 at checkout; the certificate can be used again")
    with db.write_session(shop["url"]) as s, pytest.raises(InvalidTransition, match="no longer applied"):
        widget.remove_certificate(s, shop["token"], str(red_id))


def test_a_session_cannot_remove_a_redemption_of_another_order(shop):
    with db.write_session(shop["url"]) as s:
        other = redemption.create_order(s, shop["ws"], reference="BK-2", total_cents=48000)
        red = redemption.redeem(s, shop["ws"], code=shop["cert"].code, order_id=other.id, actor="api")
    with db.write_session(shop["url"]) as s, pytest.raises(InvalidTransition):
        widget.remove_certificate(s, shop["token"], str(red.id))
    with db.read_session(shop["url"]) as s:
        assert s.get(Order, other.id).amount_due_cents == 38000
        assert s.get(Certificate, shop["cert"].id).status == "redeemed"


def test_a_session_only_reaches_certificates_of_its_own_workspace(shop):
    with db.write_session(shop["url"]) as s:
        stranger = make_certificate(s, make_workspace(s), amount="100")
    with db.write_session(shop["url"]) as s, pytest.raises(InvalidCode):
        widget.apply_code(s, shop["token"], stranger.code)


@pytest.mark.parametrize("token", ["", None, "gcw_unknown", "x" * 500])
def test_an_unknown_token_opens_nothing(shop, token):
    with db.write_session(shop["url"]) as s, pytest.raises(WidgetSessionExpired, match="Reload the booking page"):
        widget.apply_code(s, token, shop["cert"].code)


def test_an_expired_session_stops_working_but_its_page_may_still_be_framed_by_the_booking_site(shop):
    with db.write_session(shop["url"]) as s:
        _, old = redemption.create_widget_session(s, shop["ws"], order_id=shop["order"].id,
                                                  now=utcnow() - timedelta(hours=1))
    with db.write_session(shop["url"]) as s, pytest.raises(WidgetSessionExpired):
        widget.apply_code(s, old, shop["cert"].code)
    with db.read_session(shop["url"]) as s:
        assert widget.frame_ancestors(s, old) == "https://booking.example.com http://localhost:3000"
        assert widget.frame_ancestors(s, shop["token"]) == "https://booking.example.com http://localhost:3000"
        assert widget.frame_ancestors(s, "gcw_unknown") == "'none'"
        assert widget.frame_ancestors(s, None) == "'none'"
        assert s.exec(select(Certificate).where(Certificate.id == shop["cert"].id)).one().status == "active"


def test_a_workspace_without_embed_origins_cannot_be_framed_anywhere(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        order = redemption.create_order(s, ws, reference="BK-1", total_cents=1000)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id)
    with db.read_session(db_url) as s:
        assert widget.frame_ancestors(s, token) == "'none'"
