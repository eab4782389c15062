"""Dates as the workspace sees them: stored in UTC, counted and shown in the workspace's timezone."""

from datetime import datetime, timezone

import pytest

from giftcerts.clock import days_until, format_date, in_days, wait_phrase

UTC = timezone.utc


def test_days_until_counts_calendar_days_in_the_workspace_timezone():
    # 22:00 in New York on 1 December; the certificate expires at 08:00 New York time on 2 December
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    tomorrow_morning = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert days_until(tomorrow_morning, "America/New_York", now) == 1  # ten hours away, but tomorrow
    # in Auckland it is 16:00 on 2 December and the certificate expires at 02:00 on the 3rd
    assert days_until(tomorrow_morning, "Pacific/Auckland", now) == 1
    assert days_until(tomorrow_morning, "UTC", now) == 0  # both on 2 December in UTC


def test_two_certificates_expiring_on_consecutive_dates_are_a_day_apart():
    now = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    late_on_the_14th = datetime(2026, 12, 15, 4, 0, tzinfo=UTC)   # 23:00 on 14 December in New York
    early_on_the_15th = datetime(2026, 12, 15, 6, 0, tzinfo=UTC)  # 01:00 on 15 December in New York
    assert format_date(late_on_the_14th, "America/New_York") == "2026-12-14"
    assert days_until(late_on_the_14th, "America/New_York", now) == 13
    assert days_until(early_on_the_15th, "America/New_York", now) == 14


def test_a_date_in_the_past_is_zero_days_away():
    now = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    assert days_until(datetime(2026, 11, 1, tzinfo=UTC), "UTC", now) == 0


@pytest.mark.parametrize(("days", "words"), [(0, "today"), (1, "tomorrow"), (2, "in 2 days"), (90, "in 90 days")])
def test_days_read_as_words(days, words):
    assert in_days(days) == words


@pytest.mark.parametrize("seconds, phrase", [
    (0, "1 second"), (1, "1 second"), (45, "45 seconds"), (59, "59 seconds"),
    (60, "1 minute"), (61, "2 minutes"),  # rounded up: never tell someone to come back too early
    (600, "10 minutes"), (7140, "119 minutes"), (7199, "2 hours"), (7200, "2 hours"), (7201, "3 hours"),
])
def test_a_wait_is_told_in_whole_units_rounded_up(seconds, phrase):
    assert wait_phrase(seconds) == phrase
