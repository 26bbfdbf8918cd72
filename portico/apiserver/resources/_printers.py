"""Cell formats shared by the table columns of every kind (kubectl's printers.go)."""

from __future__ import annotations

import datetime

from portico.apiserver.resources import _base


def human_duration(seconds_total: float) -> str:
    """`duration.HumanDuration`: 45s, 5m3s, 12m, 3h5m, 2d4h, 1y20d."""
    seconds = int(seconds_total)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return _units(minutes, "m", seconds % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return _units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _units(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _units(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _units(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    """`5m3s`, or `5m` when the minor part is zero."""
    return f"{major}{major_unit}{minor}{minor_unit}" if minor else f"{major}{major_unit}"


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def since(value: str | None, now: datetime.datetime) -> str:
    """`translateTimestampSince`: `<unknown>` for a missing timestamp."""
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def age(obj: _base.Object, now: datetime.datetime) -> str:
    return since(_base.nested(obj, "metadata", "creationTimestamp"), now)


def name(obj: _base.Object) -> str:
    return str(_base.nested(obj, "metadata", "name", default=""))


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(when: datetime.datetime) -> str:
    """Kubernetes' `metav1.Time` wire format: second precision, `Z` suffix."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
