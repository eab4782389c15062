"""Segment Restrictions: "Limit which certificates customers can purchase based on segments.
This allows you to offer specific certificate types to certain customer groups or markets."
"Segment settings can restrict which certificates are available to specific customer groups."
"""

from __future__ import annotations

import pytest

from giftcerts import db
from giftcerts.core import certificate_types, purchases, segments
from giftcerts.core.certificate_types import NotEligible
from giftcerts.core.errors import ValidationError
from giftcerts.core.segments import Visitor
from tests.factories import make_workspace


@pytest.fixture
def catalogue(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="alpine")
        group_a = segments.save_segment(s, ws, name="Group A", kind="customer_group",
                                        members_text="vip@example.com\ncorp.example")
        us = segments.save_segment(s, ws, name="United States", kind="market", market_code="us")
        de = segments.save_segment(s, ws, name="Germany", kind="market", market_code="DE")
        everyone = certificate_types.save_type(s, ws, name="Travel credit")
        type_x = certificate_types.save_type(s, ws, name="Type X", segment_ids=[group_a.id])
        us_only = certificate_types.save_type(s, ws, name="US tours", segment_ids=[us.id])
        de_only = certificate_types.save_type(s, ws, name="Deutschland-Reisen", segment_ids=[de.id])
        retired = certificate_types.save_type(s, ws, name="Retired", active=False)
    return {"url": db_url, "ws": ws, "everyone": everyone, "x": type_x, "us": us_only, "de": de_only,
            "retired": retired, "group_a": group_a}


def offered(c, **visitor) -> list[str]:
    with db.read_session(c["url"]) as s:
        return [t.name for t in certificate_types.available_types(s, c["ws"], Visitor(**visitor))]


def test_a_customer_of_group_a_sees_type_x_and_a_stranger_does_not(catalogue):
    assert "Type X" in offered(catalogue, email="vip@example.com")
    assert "Type X" in offered(catalogue, email="VIP@Example.com")
    assert "Type X" in offered(catalogue, email="anyone@corp.example")          # by email domain
    assert "Type X" in offered(catalogue, email="anyone@paris.corp.example")    # and its subdomains
    assert "Type X" not in offered(catalogue, email="stranger@example.com")
    assert "Type X" not in offered(catalogue, email="someone@notcorp.example")  # not a suffix match
    assert "Type X" not in offered(catalogue)


def test_a_type_without_segments_is_for_everyone_and_a_retired_type_for_no_one(catalogue):
    assert offered(catalogue) == ["Travel credit"]
    assert "Retired" not in offered(catalogue, email="vip@example.com", market="US")


def test_market_links_show_their_own_types(catalogue):
    assert offered(catalogue, market="US") == ["Travel credit", "US tours"]
    assert offered(catalogue, market="de") == ["Travel credit", "Deutschland-Reisen"]
    assert offered(catalogue, market="FR") == ["Travel credit"]
    assert offered(catalogue, market="<script>") == ["Travel credit"]


def test_a_stranger_cannot_buy_type_x_even_by_asking_the_server(catalogue):
    with db.read_session(catalogue["url"]) as s:
        with pytest.raises(NotEligible) as refused:
            purchases.validate_purchase(s, catalogue["ws"], certificate_type_id=catalogue["x"].id, amount="100",
                                        purchaser_name="Eve", purchaser_email="eve@example.com",
                                        recipient_name="R", recipient_email="r@example.com")
        assert "reserved for selected customers" in refused.value.message
        ok = purchases.validate_purchase(s, catalogue["ws"], certificate_type_id=catalogue["x"].id, amount="100",
                                         purchaser_name="V", purchaser_email="vip@example.com",
                                         recipient_name="R", recipient_email="r@example.com")
        assert ok.certificate_type_id == catalogue["x"].id
        with pytest.raises(NotEligible):
            purchases.validate_purchase(s, catalogue["ws"], certificate_type_id=catalogue["us"].id, amount="100",
                                        purchaser_name="V", purchaser_email="vip@example.com",
                                        recipient_name="R", recipient_email="r@example.com", market="DE")
        with pytest.raises(NotEligible):
            purchases.validate_purchase(s, catalogue["ws"], certificate_type_id=catalogue["retired"].id,
                                        amount="100", purchaser_name="V", purchaser_email="vip@example.com",
                                        recipient_name="R", recipient_email="r@example.com")


def test_when_a_workspace_sells_types_one_must_be_chosen(catalogue):
    with db.read_session(catalogue["url"]) as s, pytest.raises(ValidationError) as refused:
        purchases.validate_purchase(s, catalogue["ws"], certificate_type_id="", amount="100", purchaser_name="V",
                                    purchaser_email="v@example.com", recipient_name="R",
                                    recipient_email="r@example.com")
    assert "certificate_type" in refused.value.errors


def test_a_types_narrower_bounds_apply_at_payment_time(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="bounds")
        safari = certificate_types.save_type(s, ws, name="Safari", min_amount="250", max_amount="500")
        assert certificate_types.bounds(ws, safari) == (25000, 50000)
        with pytest.raises(ValidationError) as refused:
            purchases.validate_purchase(s, ws, certificate_type_id=safari.id, amount="100", purchaser_name="P",
                                        purchaser_email="p@example.com", recipient_name="R",
                                        recipient_email="r@example.com")
        assert refused.value.errors["amount"] == "The minimum amount is $250.00 for Safari."


def test_a_types_amounts_are_read_in_the_workspaces_number_format(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="format", locale="de_DE")
        safari = certificate_types.save_type(s, ws, name="Safari", min_amount="250,50", max_amount="1.000",
                                             preset_amounts="300,50; 500")
        assert (safari.min_amount_cents, safari.max_amount_cents) == (25050, 100000)
        assert certificate_types.presets(ws, safari) == [30050, 50000]
        with pytest.raises(ValidationError) as refused:
            certificate_types.save_type(s, ws, name="Cruise", min_amount="250.50")
        assert "Write the minimum amount as 250,50" in refused.value.errors["min_amount"]


def test_segment_and_type_forms_report_every_problem(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="forms")
        with pytest.raises(ValidationError) as bad:
            segments.save_segment(s, ws, name="", kind="customer_group", members_text="ok@example.com\nnot an@")
        assert set(bad.value.errors) == {"name", "members"}
        segments.save_segment(s, ws, name="US", kind="market", market_code="US")
        with pytest.raises(ValidationError) as dup:
            segments.save_segment(s, ws, name="Also US", kind="market", market_code="us")
        assert "market_code" in dup.value.errors
        with pytest.raises(ValidationError) as bad_type:
            certificate_types.save_type(s, ws, name="T", accent_color="red", image_url="javascript:alert(1)",
                                        min_amount="10", max_amount="5", preset_amounts="abc")
        assert {"accent_color", "image_url", "min_amount", "max_amount", "preset_amounts"} <= set(bad_type.value.errors)


def test_another_workspaces_segments_cannot_be_attached(db_url):
    with db.write_session(db_url) as s:
        mine, theirs = make_workspace(s, slug="mine"), make_workspace(s, slug="theirs")
        foreign = segments.save_segment(s, theirs, name="Theirs", kind="market", market_code="XX")
        with pytest.raises(Exception):
            certificate_types.save_type(s, mine, name="T", segment_ids=[foreign.id])
        assert certificate_types.list_types(s, mine.id) == []


def test_deleting_a_segment_lifts_its_restriction(catalogue):
    with db.write_session(catalogue["url"]) as s:
        segments.delete_segment(s, catalogue["ws"], segment_id=catalogue["group_a"].id)
    assert "Type X" in offered(catalogue)
