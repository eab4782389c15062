"""What the dashboard shows of a certificate (giftcerts.ui.present)."""

from datetime import datetime, timezone

import pytest

from giftcerts.models import Certificate, Workspace
from giftcerts.ui import present


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
