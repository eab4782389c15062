"""What the portal offers a visitor (certificate_types.offer): the types they may buy, the
one chosen, and the amounts allowed for it."""

from __future__ import annotations

from giftcerts import db
from giftcerts.core import certificate_types, segments
from giftcerts.core.segments import Visitor
from tests.factories import make_workspace


def test_a_workspace_without_types_offers_one_plain_certificate_within_its_own_bounds(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="plain")
        offer = certificate_types.offer(s, ws, Visitor())
    assert (offer.types, offer.sells_types, offer.chosen, offer.withdrawn) == ([], False, None, False)
    assert (offer.low, offer.high, offer.presets) == (2500, 100000, [5000, 10000, 25000])


def test_the_first_offered_type_is_chosen_and_its_amounts_apply(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="first")
        safari = certificate_types.save_type(s, ws, name="Safari", min_amount="250", max_amount="500",
                                             preset_amounts="300, 400")
        certificate_types.save_type(s, ws, name="Alpine")
        offer = certificate_types.offer(s, ws, Visitor())
    assert [(t.ctype.name, t.from_cents) for t in offer.types] == [("Safari", 25000), ("Alpine", 2500)]
    assert offer.sells_types and offer.chosen.id == safari.id and not offer.withdrawn
    assert (offer.low, offer.high, offer.presets) == (25000, 50000, [30000, 40000])


def test_a_type_the_visitor_may_not_buy_is_withdrawn_for_the_first_one_they_may(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="restricted")
        partners = segments.save_segment(s, ws, name="Partners", kind="customer_group",
                                         members_text="partner.example")
        everyone = certificate_types.save_type(s, ws, name="Travel credit")
        theirs = certificate_types.save_type(s, ws, name="Partner credit", segment_ids=[partners.id])
        partner = certificate_types.offer(s, ws, Visitor(email="ana@partner.example"), type_id=str(theirs.id))
        stranger = certificate_types.offer(s, ws, Visitor(email="eve@example.com"), type_id=str(theirs.id))
    assert partner.chosen.id == theirs.id and not partner.withdrawn
    assert stranger.chosen.id == everyone.id and stranger.withdrawn
    assert [t.ctype.name for t in stranger.types] == ["Travel credit"]


def test_when_no_type_is_offered_to_this_visitor_the_workspace_still_sells_types(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="none-for-you")
        de = segments.save_segment(s, ws, name="Germany", kind="market", market_code="DE")
        certificate_types.save_type(s, ws, name="Deutschland-Reisen", segment_ids=[de.id])
        offer = certificate_types.offer(s, ws, Visitor(market="US"))
    assert offer.types == [] and offer.sells_types and offer.chosen is None


def test_the_amount_typed_is_read_in_the_workspaces_format_and_checked_against_the_chosen_type(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="amounts", locale="de_DE")
        certificate_types.save_type(s, ws, name="Safari", min_amount="250", max_amount="500")
        assert certificate_types.offer(s, ws, Visitor(), amount="").amount_error == ""
        assert certificate_types.offer(s, ws, Visitor(), amount="300,50").amount_error == ""
        assert "250" in certificate_types.offer(s, ws, Visitor(), amount="100").amount_error
        assert "Write the amount as" in certificate_types.offer(s, ws, Visitor(), amount="300.50").amount_error
