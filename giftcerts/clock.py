"""Time in one place: timezone-aware UTC everywhere in code and database,
the workspace's timezone only on screen and in documents."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.units import format_unit


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_local(moment: datetime | None, tz_name: str) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # defensive: treat naive values as UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(tz_name))


def format_local(moment: datetime | None, tz_name: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = to_local(moment, tz_name)
    return local.strftime(fmt) if local else ""


def format_date(moment: datetime | None, tz_name: str) -> str:
    return format_local(moment, tz_name, "%Y-%m-%d")


def days_until(moment: datetime, tz_name: str, now: datetime | None = None) -> int:
    """Calendar days from today to `moment`'s date, both in the workspace's timezone (0: today).

    Counted by dates, not by 24-hour periods, so that a certificate expiring tomorrow morning is
    "tomorrow" tonight, and two certificates expiring on consecutive days are a day apart."""
    today = to_local(now or utcnow(), tz_name).date()
    return max(0, (to_local(moment, tz_name).date() - today).days)


def in_days(days: int) -> str:
    """0 -> "today", 1 -> "tomorrow", n -> "in n days"."""
    return "today" if days <= 0 else "tomorrow" if days == 1 else f"in {days} days"


def wait_phrase(seconds: int) -> str:
    """How long to wait before trying again, in whole units rounded up ("45 seconds",
    "2 minutes", "3 hours"), so nobody is told to come back before the budget allows."""
    seconds = max(1, int(seconds))
    minutes = -(-seconds // 60)
    if seconds < 60:
        amount, unit = seconds, "second"
    elif minutes < 120:
        amount, unit = minutes, "minute"
    else:
        amount, unit = -(-minutes // 60), "hour"
    return format_unit(amount, f"duration-{unit}", length="long", locale="en")
