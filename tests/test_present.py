"""What the dashboard shows of a certificate (giftcerts.ui.components.present)."""

from datetime import datetime, timezone

import pytest

from giftcerts.models import Certificate, Workspace
from giftcerts.ui.components import present


@pytest.mark.parametrize(("source", "shown"), [("api", "API"), ("portal", "Portal"), ("manual", "Manual")])
def test_the_detail_page_names_the_source_as_the_overview_filter_does(source, shown):
    ws = Workspace(id=1, slug="w", name="W", currency="USD", timezone="America/New_York")
    cert = Certificate(id=1, workspace_id=1, code="ABCDEFGHJKMN", status="active", amount_cents=5000, currency="USD",
                       purchaser_name="P", purchaser_email="p@example.com", recipient_name="R",
                       recipient_email="r@example.com", source=source,
                       created_at=datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc))
    detail = present.certificate_detail(cert, ws)
    assert detail["source"] == shown
    assert detail["created_at"] == "2026-12-01 10:00"  # the workspace's timezone


def test_a_void_whose_refund_is_with_stripe_shows_as_refund_in_progress_and_since_when():
    from giftcerts.ui.components.elements import STATUS_COLORS, STATUS_OPTIONS

    ws = Workspace(id=1, slug="w", name="W", currency="USD", timezone="America/New_York")
    cert = Certificate(id=1, workspace_id=1, code="ABCDEFGHJKMN", status="refunding", amount_cents=5000,
                       currency="USD", purchaser_name="P", purchaser_email="p@example.com", recipient_name="R",
                       recipient_email="r@example.com", source="portal", stripe_payment_intent_id="pi_1",
                       void_reason="Trip cancelled", created_at=datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc),
                       refund_requested_at=datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc))
    detail = present.certificate_detail(cert, ws)
    assert detail["status_label"] == "Refund in progress" and detail["refundable"] == "yes"
    assert detail["refund_requested_at"] == "2026-12-02 10:00" and detail["void_reason"] == "Trip cancelled"
    assert ("refunding", "Refund in progress") in STATUS_OPTIONS and "refunding" in STATUS_COLORS
    cert.status = "active"
    assert present.certificate_detail(cert, ws)["refund_requested_at"] == ""
