"""Time: stored as UTC, shown in the community's zone (Asia/Shanghai), one server clock."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import marshmallow as ma
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# The calendar clients may name: far dates overflow the first ``+ timedelta`` (year 9999).
MIN_YEAR, MAX_YEAR = 2000, 2100
YEARS_REFUSED = f"日期须在 {MIN_YEAR} 年至 {MAX_YEAR} 年之间"
# The same bound in the OpenAPI description (a pattern beside format date / date-time).
YEARS_PATTERN = r"^(20[0-9]{2}|2100)-"


def now() -> datetime:
    """The server clock, timezone-aware. Tests freeze it by patching this function."""
    return datetime.now(UTC)


def local_midnight(day: date, next_day: bool = False) -> datetime:
    """Start of ``day`` (or of the day after) in community time, as UTC; the calendar's
    ends (year 1, year 9999) clamp instead of overflowing."""
    try:
        if next_day:
            day += timedelta(days=1)
        return to_utc(datetime.combine(day, time.min).replace(tzinfo=LOCAL_TZ))
    except OverflowError:
        edge = datetime.max if day.year > 1 else datetime.min
        return edge.replace(tzinfo=UTC)


def today() -> date:
    """The community's local date now."""
    return now().astimezone(LOCAL_TZ).date()


def month_bounds(day: date) -> tuple[date, date]:
    """The first and the last day of ``day``'s month."""
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def to_utc(value: datetime) -> datetime:
    """Naive times from clients are read as community-local time, never as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp column that accepts aware datetimes and always returns aware UTC ones.

    Stored naive-in-UTC so that SQLite and PostgreSQL compare and order the same way.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class LocalDateTime(ma.fields.DateTime):
    """ISO 8601 with offset out (Asia/Shanghai); ISO 8601 in, naive read as local time, in
    the years ``MIN_YEAR``–``MAX_YEAR``."""

    def __init__(self, **kwargs) -> None:
        kwargs["metadata"] = {"pattern": YEARS_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(LOCAL_TZ).isoformat()

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise ma.ValidationError(YEARS_REFUSED)
        return to_utc(parsed)
