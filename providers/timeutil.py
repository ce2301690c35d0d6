"""Provider times are naive Tehran wall-clock times (UTC+03:30, no DST since 2022; docs/providers.md §0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

TEHRAN = timezone(timedelta(hours=3, minutes=30), "Asia/Tehran")
_UNSET = datetime(1, 1, 1)


def now_tehran() -> datetime:
    return datetime.now(TEHRAN)


def format_tehran(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Tehran time; a naive value is taken as Tehran time already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(TEHRAN)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_local(text: object) -> datetime | None:
    """A provider time (ISO or ``yyyy-MM-dd HH:mm:ss``, naive = Tehran) as an aware datetime.

    ``0001-01-01T00:00:00`` ("not set") and anything unparsable give None.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.replace(tzinfo=None) == _UNSET:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=TEHRAN)
    return value.astimezone(TEHRAN)


def utc_now() -> datetime:
    return datetime.now(UTC)
