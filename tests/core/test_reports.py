"""Tracking certificate sales: revenue, popular amounts, redemption rates, what is owed.

One known set of certificates in a New York workspace (UTC-5 in winter, UTC-4 from
March 8 2026), sold, redeemed, voided, reactivated and expired across February and March
and two certificate types, several of them on the edge of a local day, week or month.
Every figure is compared with the value worked out by hand below. Runs on SQLite and
PostgreSQL.

    cert  type src     amount  activated (New York)          then
    c1    A    manual  100     Jan 31 23:30 EST (Feb 1 UTC)  left Active, past its date Mar 2 23:30 EST
    c2    A    manual  100     Feb 1 00:00 EST               redeemed exactly 10 days later
    c3    B    manual   50     Feb 28 23:59 EST (Mar 1 UTC)  voided Mar 2, card payment refunded
    c4    A    manual  250     Feb 10 12:00 EST              expired (swept) Mar 12
    c5    B    manual  100     never paid (pending)          voided Mar 10 before payment
    c6    B    portal  100     Mar 8 01:30 EST (DST day)     redeemed Mar 13 13:30 EDT (5 d 11 h)
    c7    A    manual  100     Mar 31 23:30 EDT (Apr 1 UTC)  Active, expires May 1
    c8    A    manual  250     Mar 15 10:00 EDT              Active, expires Apr 14
    c9    B    manual   50     Mar 3 09:00 EST               voided Mar 5, reactivated Mar 6, past its date Apr 2
    c10   A    manual  100     Apr 1 00:00 EDT               Active, 60-day expiry (May 31)
    x     -    manual  900     Mar 10, another workspace     never counted

"Now" is Apr 5 2026 12:00 UTC; the workspace's certificates are valid 30 days (c10: 60).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from giftcerts import db
from giftcerts.core import lifecycle, reports
from giftcerts.core.errors import ValidationError
from giftcerts.models import Certificate, CertificateSource, CertificateType
from tests.factories import make_certificate, make_workspace, redeem

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 4, 5, 12, 0, tzinfo=timezone.utc)


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(timezone.utc)


@pytest.fixture
def world(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="alpine", timezone="America/New_York", expiry_days=30)
        type_a = CertificateType(workspace_id=ws.id, name="Safari credit")
        type_b = CertificateType(workspace_id=ws.id, name="Winter tours")
        s.add_all([type_a, type_b])
        s.flush()

        def sell(amount, when, kind, *, paid=True, source=CertificateSource.MANUAL):
            cert = lifecycle.issue_certificate(
                s, ws, purchaser_name="Pat Buyer", purchaser_email="pat@example.com", recipient_name="Robin",
                recipient_email="robin@example.com", amount=amount, source=source, paid=paid,
                actor="staff@example.com", now=when)
            s.execute(sa.update(Certificate).where(Certificate.id == cert.id)
                      .values(certificate_type_id=kind.id))
            return cert

        c = {}
        c[1] = sell(10000, ny(2026, 1, 31, 23, 30), type_a)
        c[2] = sell(10000, ny(2026, 2, 1, 0, 0), type_a)
        redeem(s, ws, c[2], reference="BK-2", now=ny(2026, 2, 11, 0, 0))
        c[3] = sell(5000, ny(2026, 2, 28, 23, 59), type_b)
        lifecycle.void_certificate(s, ws, certificate_id=c[3].id, reason="Customer refund", actor="staff",
                                   now=ny(2026, 3, 2, 12, 0), refund_id="re_c3")
        c[4] = sell(25000, ny(2026, 2, 10, 12, 0), type_a)
        lifecycle.expire_certificate(s, ws, certificate_id=c[4].id, now=ny(2026, 3, 12, 13, 0))
        c[5] = sell(10000, ny(2026, 2, 15, 9, 0), type_b, paid=False)
        lifecycle.void_certificate(s, ws, certificate_id=c[5].id, reason="Never paid", actor="staff",
                                   now=ny(2026, 3, 10, 9, 0))
        c[6] = sell(10000, ny(2026, 3, 8, 1, 30), type_b, source=CertificateSource.PORTAL)
        redeem(s, ws, c[6], reference="BK-6", now=ny(2026, 3, 13, 13, 30))
        c[7] = sell(10000, ny(2026, 3, 31, 23, 30), type_a)
        c[8] = sell(25000, ny(2026, 3, 15, 10, 0), type_a)
        c[9] = sell(5000, ny(2026, 3, 3, 9, 0), type_b)
        lifecycle.void_certificate(s, ws, certificate_id=c[9].id, reason="Typo", actor="staff",
                                   now=ny(2026, 3, 5, 9, 0))
        lifecycle.reactivate_certificate(s, ws, certificate_id=c[9].id, actor="staff", now=ny(2026, 3, 6, 9, 0))
        ws.expiry_days = 60
        s.add(ws)
        c[10] = sell(10000, ny(2026, 4, 1, 0, 0), type_a)

        other = make_workspace(s, slug="other", timezone="America/New_York")
        make_certificate(s, other, amount=90000, now=ny(2026, 3, 10, 12, 0))
        ids = {"ws": ws.id, "a": type_a.id, "b": type_b.id, "other": other.id}
    return {"url": db_url, **ids}


def figures(world, kind="custom", *, start=None, end=None, type_=None, source=None, now=NOW):
    with db.read_session(world["url"]) as s:
        from giftcerts.models import Workspace
        ws = s.get(Workspace, world["ws"])
        period = reports.resolve_period(kind, ws.timezone, now=now, start=start, end=end)
        return reports.overview(s, ws, period, reports.Filters.parse(type_, source), now=now)


def series(result) -> list[tuple[date, int, int]]:
    return [(b.first_day, b.count, b.value_cents) for b in result.series if b.count]


def test_february_in_new_york_counts_what_was_sold_on_new_york_calendar_days(world):
    # When the overview covers February 2026 in the workspace's timezone
    feb = figures(world, start="2026-02-01", end="2026-02-28")
    # Then c1 (Feb 1 in UTC, Jan 31 in New York) is out, c3 (Mar 1 in UTC, Feb 28 in New York) is in
    assert (feb.sold_count, feb.sold_cents) == (3, 40000)  # c2 + c3 + c4
    assert series(feb) == [(date(2026, 2, 1), 1, 10000), (date(2026, 2, 10), 1, 25000),
                           (date(2026, 2, 28), 1, 5000)]
    assert feb.period.granularity == "day" and len(feb.series) == 28
    # And of those three, c2 was redeemed: one in three by number, a quarter by value
    assert (feb.redeemed_count, feb.redeemed_cents) == (1, 10000)
    assert feb.redemption_rate_count == pytest.approx(1 / 3)
    assert feb.redemption_rate_value == 0.25
    assert feb.average_days_to_redemption == pytest.approx(10.0)
    # And c3, voided in March, is still February revenue and shows as "voided later"
    assert (feb.voided_later_count, feb.voided_later_cents) == (1, 5000)
    # And nothing expired or was voided within February
    assert (feb.breakage_count, feb.breakage_cents) == (0, 0)
    assert (feb.voided_count, feb.voided_cents) == (0, 0)
    # And every amount sold once: the larger first
    assert [(a.amount_cents, a.count) for a in feb.amounts] == [(25000, 1), (10000, 1), (5000, 1)]


def test_march_across_the_daylight_saving_change(world):
    mar = figures(world, start="2026-03-01", end="2026-03-31")
    # c6 (Mar 8, the DST day), c7 (Apr 1 in UTC), c8, c9; c10 (Apr 1 00:00 local) is April's
    assert (mar.sold_count, mar.sold_cents) == (4, 50000)
    assert series(mar) == [(date(2026, 3, 3), 1, 5000), (date(2026, 3, 8), 1, 10000),
                           (date(2026, 3, 15), 1, 25000), (date(2026, 3, 31), 1, 10000)]
    assert (mar.redeemed_count, mar.redeemed_cents) == (1, 10000)  # c6
    assert mar.redemption_rate_count == 0.25 and mar.redemption_rate_value == 0.2
    # 01:30 EST -> 13:30 EDT five days later is 5 days and 11 hours
    assert mar.average_days_to_redemption == pytest.approx(5 + 11 / 24)
    # c9 was voided and reactivated: not voided any more
    assert (mar.voided_later_count, mar.voided_later_cents) == (0, 0)
    # Breakage: c4 (expired Mar 12) and c1 (past its date on Mar 2 23:30 local, not swept yet)
    assert (mar.breakage_count, mar.breakage_cents) == (2, 35000)
    # Voided in March: c3 (paid); c5 was voided before payment, so it never was a sale
    assert (mar.voided_count, mar.voided_cents) == (1, 5000)
    assert [(a.amount_cents, a.count, a.value_cents) for a in mar.amounts] == [
        (10000, 2, 20000), (25000, 1, 25000), (5000, 1, 5000)]
    # Of the March voids, c3's payment was refunded to the card (c9's void was undone)
    assert (mar.refunded_count, mar.refunded_cents) == (1, 5000)


def test_outstanding_is_what_is_owed_now_whatever_the_period(world):
    feb = figures(world, start="2026-02-01", end="2026-02-28")
    mar = figures(world, start="2026-03-01", end="2026-03-31")
    # c7, c8 and c10 are Active and within their dates; c1 and c9 are past theirs
    for result in (feb, mar):
        assert (result.outstanding_count, result.outstanding_cents) == (3, 45000)
        # c7 (May 1) and c8 (Apr 14) expire within 30 days of Apr 5; c10 (May 31) does not
        assert (result.expiring_count, result.expiring_cents) == (2, 35000)
        # and the whole of it, by when it runs off
        assert [(r.label, r.count, r.value_cents) for r in result.run_off] == [
            ("≤ 30 days", 2, 35000), ("31–90 days", 1, 10000), ("91–180 days", 0, 0), ("Later", 0, 0)]


def test_filters_by_certificate_type_and_source(world):
    a = figures(world, start="2026-03-01", end="2026-03-31", type_=str(world["a"]))
    assert (a.sold_count, a.sold_cents, a.redeemed_count) == (2, 35000, 0)  # c7, c8
    assert (a.breakage_count, a.breakage_cents) == (2, 35000)  # c1, c4
    assert (a.outstanding_count, a.outstanding_cents) == (3, 45000)
    b = figures(world, start="2026-03-01", end="2026-03-31", type_=str(world["b"]))
    assert (b.sold_count, b.sold_cents, b.redeemed_count, b.redeemed_cents) == (2, 15000, 1, 10000)  # c6, c9
    assert (b.voided_count, b.voided_cents) == (1, 5000)  # c3
    assert (b.outstanding_count, b.breakage_count) == (0, 0)
    portal = figures(world, start="2026-03-01", end="2026-03-31", source="portal")
    assert (portal.sold_count, portal.sold_cents, portal.redemption_rate_count) == (1, 10000, 1.0)
    untyped = figures(world, start="2026-01-01", end="2026-12-31", type_="none")
    assert untyped.sold_count == 0 and untyped.series and untyped.amounts == []


def test_another_workspaces_type_or_sales_are_never_counted(world):
    # The other workspace sold 900.00 on Mar 10; asking with this workspace shows none of it
    mar = figures(world, start="2026-03-10", end="2026-03-10")
    assert mar.sold_count == 0 and mar.sold_cents == 0
    assert mar.redemption_rate_count is None and mar.average_days_to_redemption is None


def test_the_quarter_is_bucketed_by_monday_weeks_in_local_time(world):
    q1 = figures(world, "quarter", now=ny(2026, 2, 15, 12, 0))
    assert (q1.period.first_day, q1.period.last_day, q1.period.granularity) == (
        date(2026, 1, 1), date(2026, 3, 31), "week")
    assert q1.series[0].first_day == date(2025, 12, 29)  # the Monday of the week of Jan 1
    # c1 (Sat Jan 31) and c2 (Sun Feb 1) share the week of Monday Jan 26 in New York
    assert series(q1) == [(date(2026, 1, 26), 2, 20000), (date(2026, 2, 9), 1, 25000),
                          (date(2026, 2, 23), 1, 5000), (date(2026, 3, 2), 2, 15000),
                          (date(2026, 3, 9), 1, 25000), (date(2026, 3, 30), 1, 10000)]
    assert (q1.sold_count, q1.sold_cents) == (8, 100000)


def test_the_year_is_bucketed_by_local_month(world):
    year = figures(world, "year")
    assert len(year.series) == 12 and year.period.granularity == "month"
    assert series(year) == [(date(2026, 1, 1), 1, 10000), (date(2026, 2, 1), 3, 40000),
                            (date(2026, 3, 1), 4, 50000), (date(2026, 4, 1), 1, 10000)]


def test_the_change_marker_moves_with_every_sale_redemption_and_void(world):
    from giftcerts.models import Workspace

    def marker(ws_key="ws"):
        with db.read_session(world["url"]) as s:
            return reports.change_marker(s, world[ws_key])

    before, other_before = marker(), marker("other")
    assert before > 0
    # A sale moves it (and not another workspace's)
    with db.write_session(world["url"]) as s:
        ws = s.get(Workspace, world["ws"])
        first, second = make_certificate(s, ws), make_certificate(s, ws)
    after_sales = marker()
    assert after_sales > before and marker("other") == other_before
    # So does a redemption
    with db.write_session(world["url"]) as s:
        redeem(s, s.get(Workspace, world["ws"]), first, reference="BK-9")
    after_redemption = marker()
    assert after_redemption > after_sales
    # And a void
    with db.write_session(world["url"]) as s:
        lifecycle.void_certificate(s, s.get(Workspace, world["ws"]), certificate_id=second.id, reason="x",
                                   actor="t")
    assert marker() > after_redemption


# --- periods ------------------------------------------------------------------------------

def test_this_month_is_the_workspaces_month_not_utcs():
    # At 03:00 UTC on March 1 it is still February 28 in New York
    period = reports.resolve_period("month", "America/New_York", now=datetime(2026, 3, 1, 3, 0, tzinfo=timezone.utc))
    assert (period.first_day, period.last_day) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period.start == datetime(2026, 2, 1, 5, 0, tzinfo=timezone.utc)
    assert period.end == datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc)


def test_last_30_days_includes_today():
    period = reports.resolve_period("30d", "Europe/Oslo", now=datetime(2026, 7, 10, 23, 30, tzinfo=timezone.utc))
    # 23:30 UTC is already July 11 in Oslo (UTC+2)
    assert (period.first_day, period.last_day) == (date(2026, 6, 12), date(2026, 7, 11))


def test_a_custom_range_is_checked():
    with pytest.raises(ValidationError) as exc:
        reports.resolve_period("custom", "UTC", start="2026-03-10", end="2026-03-01")
    assert "end" in exc.value.errors
    with pytest.raises(ValidationError) as exc:
        reports.resolve_period("custom", "UTC", start="yesterday", end="")
    assert set(exc.value.errors) == {"start", "end"}
    with pytest.raises(ValidationError):
        reports.resolve_period("custom", "UTC", start="2010-01-01", end="2026-01-01")
    with pytest.raises(ValidationError):
        reports.resolve_period("fortnight", "UTC")


def test_filters_ignore_what_is_not_a_type_or_a_source():
    assert reports.Filters.parse("all", "all") == reports.Filters()
    assert reports.Filters.parse("12", "portal") == reports.Filters(type_id=12, source="portal")
    assert reports.Filters.parse("none", "bogus") == reports.Filters(type_id=0)
    assert reports.Filters.parse("1 OR 1=1", None) == reports.Filters()
    assert reports.Filters.parse("99999999999999", None) == reports.Filters()
