"""Activity entries store their kind and parameters and are worded when shown, in the
workspace's timezone: the same entry reads the same whichever path wrote it (one certificate,
the SQL sweep on either database). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from giftcerts import db
from giftcerts.core import activity, lifecycle, redemption
from giftcerts.models import Activity, Workspace
from giftcerts.ui.components.present import activity_row
from tests.factories import make_certificate, make_workspace

# 23:30 UTC on 1 March: already 2 March in Auckland, still 1 March in New York.
LATE = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)


def entries(session, cert, kind):
    return [e for e in activity.history(session, workspace_id=cert.workspace_id, certificate_id=cert.id)
            if e.kind == kind]


def test_an_expiry_is_worded_in_the_timezone_it_is_shown_in_whichever_path_wrote_it(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10, timezone="Pacific/Auckland")
        one, swept = (make_certificate(s, ws, now=LATE - timedelta(days=10)) for _ in range(2))
    with db.write_session(db_url) as s:
        lifecycle.expire_certificate(s, s.get(Workspace, ws.id), certificate_id=one.id, now=LATE)
        assert lifecycle.expire_due(s, now=LATE) == 1
    with db.read_session(db_url) as s:
        for cert in (one, swept):
            [entry] = entries(s, cert, "Expired")
            assert entry.params["expires_at"]  # a moment, not a date already in one timezone
            assert activity.describe(entry, "Pacific/Auckland") == "Expired on 2026-03-02"
            assert activity.describe(entry, "America/New_York") == "Expired on 2026-03-01"
            assert activity_row(entry, s.get(Workspace, ws.id))["details"] == "Expired on 2026-03-02"


def test_a_redemption_written_by_the_one_statement_reads_like_the_rest(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, amount="100")
        order = redemption.create_order(s, ws, reference="BK-77", total_cents=20000)
        red = redemption.redeem(s, ws, code=cert.code, order_id=order.id, actor="api")
        redemption.release(s, ws, redemption_id=red.id, actor="staff@example.com")
    with db.read_session(db_url) as s:
        [redeemed] = entries(s, cert, "Redeemed")
        [released] = entries(s, cert, "Released")
        assert redeemed.params == {"order_reference": "BK-77"}
        assert activity.describe(redeemed, ws.timezone) == "Order BK-77"
        assert activity.describe(released, ws.timezone) == "Order BK-77 cancelled; the certificate can be used again"


def test_entries_from_before_parameters_read_as_written():
    old = Activity(workspace_id=1, certificate_id=1, kind="Expired", actor="system", details="Expired on 2025-01-01",
                   params=None)
    assert activity.describe(old, "Pacific/Auckland") == "Expired on 2025-01-01"
