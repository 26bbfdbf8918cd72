"""Cron schedules as CronJobs read them (robfig/cron v3's `ParseStandard`), no I/O.

`parse(text)` accepts five fields (minute, hour, day of month, month, day of week)
with `*`, `?`, lists `a,b`, ranges `a-b`, steps `*/n` and `a-b/n`, month and
weekday names (JAN..DEC, SUN..SAT), and the descriptors @yearly (@annually),
@monthly, @weekly, @daily (@midnight) and @hourly. A malformed schedule raises
`CronError` whose text is robfig's, which kube-apiserver returns as the
`spec.schedule` field error.

`Schedule.next(after)` is the first matching minute strictly after `after`, in the
time zone of `after` (wall-clock fields; the caller converts with zoneinfo). As in
cron, when both day of month and day of week are restricted a day matching either
one matches; when one of them is `*` only the other counts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

_MONTHS = {n: i + 1 for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_SEARCH_LIMIT = datetime.timedelta(days=366 * 5)


class CronError(ValueError):
    """A schedule robfig/cron would not parse; the message is robfig's."""


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Bounds(0, 59), _Bounds(0, 23), _Bounds(1, 31), _Bounds(1, 12, _MONTHS), _Bounds(0, 6, _DAYS),
)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of month was `*` or `?`
    any_weekday: bool

    def day_matches(self, when: datetime.datetime) -> bool:
        dom = when.day in self.days
        dow = (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first scheduled minute after `after` (None within five years: never)."""
        when = after.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        limit = after + _SEARCH_LIMIT
        while when <= limit:
            if when.month not in self.months:
                when = _next_month(when)
            elif not self.day_matches(when):
                when = (when + datetime.timedelta(days=1)).replace(hour=0, minute=0)
            elif when.hour not in self.hours:
                when = (when + datetime.timedelta(hours=1)).replace(minute=0)
            elif when.minute not in self.minutes:
                when += datetime.timedelta(minutes=1)
            else:
                return when
        return None


def _next_month(when: datetime.datetime) -> datetime.datetime:
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    return when.replace(year=year, month=month, day=1, hour=0, minute=0)


def _number(text: str, expr: str) -> int:
    if not text.isdigit():
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                        "invalid syntax")
    return int(text)


def _value(text: str, bounds: _Bounds, expr: str) -> int:
    if bounds.names and text.lower() in bounds.names:
        return bounds.names[text.lower()]
    if text.startswith("-") and text[1:].isdigit():
        raise CronError(f"negative number ({text}) not allowed: {expr}")
    return _number(text, expr)


def _range(expr: str, bounds: _Bounds) -> tuple[set[int], bool]:
    """One comma-separated part: its values, and whether it was a bare star."""
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expr}")
    low_high = range_and_step[0].split("-")
    if len(low_high) > 2:
        raise CronError(f"too many hyphens: {expr}")
    star = low_high[0] in ("*", "?")
    if star:
        start, end = bounds.low, bounds.high
    else:
        start = _value(low_high[0], bounds, expr)
        end = _value(low_high[1], bounds, expr) if len(low_high) == 2 else start
    step = 1
    if len(range_and_step) == 2:
        step = _number(range_and_step[1], expr)
        if len(low_high) == 1 and not star:
            end = bounds.high
        if step <= 0:
            raise CronError(f"step of range should be a positive number: {expr}")
    if start < bounds.low:
        raise CronError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    return set(range(start, end + 1, step)), star and step == 1


def _field(text: str, bounds: _Bounds) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        got, bare = _range(part, bounds)
        values |= got
        star = star or bare
    return frozenset(values), star


def parse(text: str) -> Schedule:
    """A standard 5-field schedule or descriptor; raises `CronError` as robfig words it."""
    spec = text.strip()
    if not spec:
        raise CronError("empty spec string")
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(f, b) for f, b in zip(fields, _FIELDS, strict=True)]
    return Schedule(
        minutes=parsed[0][0], hours=parsed[1][0], days=parsed[2][0], months=parsed[3][0],
        weekdays=parsed[4][0], any_day=parsed[2][1], any_weekday=parsed[4][1],
    )
