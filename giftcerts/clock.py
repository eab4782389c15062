"""Time in one place: timezone-aware UTC everywhere in code and database,
the workspace's timezone only on screen and in documents."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


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
