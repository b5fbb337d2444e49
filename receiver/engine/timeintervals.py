"""Time intervals: is an instant inside a named interval, is a route muted, and until when?

Alertmanager's `time_intervals`, read as its `timeinterval` package reads them. An
interval holds when every field it sets holds, each on the wall clock of its `location`
(an IANA time zone, default UTC): `times` (`HH:MM` to `HH:MM`, the end excluded, `24:00`
allowed), `weekdays` (names, ranges like `monday:friday`), `days_of_month` (1…31, or
counted back from the month's end: -1 is its last day; ranges like `1:7`, `-3:-1`),
`months` (names or numbers, ranges) and `years` (ranges). A named interval is a list of
such intervals and holds when any of them does.

A route is muted while one of its `mute_time_intervals` holds, or while none of its
`active_time_intervals` does (when it has some). `mute_state` says which, and when that
answer next changes: the answer can only change where some interval's wall clock crosses
a boundary minute or midnight, or jumps (a daylight-saving change), so those instants are
the only ones examined, in order, up to `SCAN_DAYS` ahead.
"""

from __future__ import annotations

import calendar
import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

MINUTES_PER_DAY = 1440
# How far ahead a mute's end is looked for; past it, the loops look again then.
SCAN_DAYS = 400
SCAN_SECONDS = SCAN_DAYS * 86400.0

# Go's numbering, as Alertmanager's: Sunday is 0.
WEEKDAYS = {
    name: number
    for number, name in enumerate(
        ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    )
}
MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
_CLOCK = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")
# YAML 1.1 reads an unquoted 17:00 or 1:7 as a number in base 60.
_QUOTE_HINT = "write it in quotes (YAML reads an unquoted 17:00 or 1:7 as a number)"

Span = tuple[int, int]  # first and last, both included


def _text(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{what}: expected text, like the examples in the README")
    text = str(value).strip().lower()
    if len(text) > 40:
        raise ValueError(f"{what}: {text[:40]!r}… is too long to be one")
    return text


def _span(value: Any, what: str, member: Any, *, forward: str | None = None) -> Span:
    """One value or a range `FIRST:LAST` of `member`s; `forward` says why a range that
    runs backwards is refused (None: the caller checks)."""
    text = _text(value, what)
    parts = text.split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"{text!r}: {what} is one value or a range FIRST:LAST")
    first, last = member(parts[0]), member(parts[-1])
    if forward is not None and first > last:
        raise ValueError(f"{text!r}: {forward}")
    return first, last


def _number(text: str, what: str) -> int:
    if not re.fullmatch(r"-?[0-9]{1,4}", text):
        raise ValueError(f"{text!r} is not {what}")
    return int(text)


def _weekdays(value: Any) -> Span:
    def member(text: str) -> int:
        if text not in WEEKDAYS:
            raise ValueError(f"{text!r} is not a weekday (sunday … saturday)")
        return WEEKDAYS[text]

    forward = "a weekday range runs forward within sunday:saturday"
    return _span(value, "a weekday", member, forward=forward)


def _days_of_month(value: Any) -> Span:
    what = "a day of the month (1 … 31, or -31 … -1 from the month's end)"

    def member(text: str) -> int:
        day = _number(text, what)
        if day == 0 or not -31 <= day <= 31:
            hint = f"; {_QUOTE_HINT}" if isinstance(value, int) and day > 31 else ""
            raise ValueError(f"{day} is not {what}{hint}")
        return day

    first, last = _span(value, "a day of the month", member)
    if first < 0 < last:
        raise ValueError(f"{value!r}: a range that starts from the month's end ends there too")
    # As Alertmanager: a day counted from the end is read as in a 30-day month (-1 is 29)
    # to refuse a range that is plainly backwards.
    if (first + 30 if first < 0 else first) > (last + 30 if last < 0 else last):
        raise ValueError(f"{value!r}: the range ends before it starts")
    return first, last


def _months(value: Any) -> Span:
    def member(text: str) -> int:
        if text in MONTHS:
            return MONTHS[text]
        number = _number(text, "a month (january … december, or 1 … 12)")
        if not 1 <= number <= 12:
            raise ValueError(f"{number} is not a month (1 … 12)")
        return number

    forward = "a month range runs forward within january:december"
    return _span(value, "a month", member, forward=forward)


def _years(value: Any) -> Span:
    def member(text: str) -> int:
        year = _number(text, "a year")
        if not 1 <= year <= 9999:
            raise ValueError(f"{year} is not a year (1 … 9999)")
        return year

    return _span(value, "a year", member, forward="the range ends before it starts")


def _clock(value: Any) -> int:
    """Minutes since midnight of `HH:MM` (00:00 … 24:00)."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"a time of day is HH:MM; {_QUOTE_HINT}")
    if not isinstance(value, str):
        raise ValueError("a time of day is HH:MM, like '09:00'")
    match = _CLOCK.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a time of day (HH:MM, 00:00 … 24:00)")
    hours, minutes = (int(g) for g in match.groups() if g is not None)
    return hours * 60 + minutes


Spans = tuple[Span, ...] | None
_SPAN_PARSERS = {
    "weekdays": _weekdays,
    "days_of_month": _days_of_month,
    "months": _months,
    "years": _years,
}


class TimeRange(BaseModel):
    """A part of the day: from `start_time` up to (not including) `end_time`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_time: Annotated[int, BeforeValidator(_clock)]
    end_time: Annotated[int, BeforeValidator(_clock)]

    @model_validator(mode="after")
    def _forward(self) -> Self:
        if self.start_time >= self.end_time:
            raise ValueError("end_time must be after start_time (a range ends by 24:00)")
        return self


class TimeInterval(BaseModel):
    """One interval: it holds when every field it sets holds (unset: any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    times: tuple[TimeRange, ...] | None = None
    weekdays: Spans = None
    days_of_month: Spans = None
    months: Spans = None
    years: Spans = None
    location: str = "UTC"

    @field_validator("weekdays", "days_of_month", "months", "years", mode="before")
    @classmethod
    def _spans(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value]  # one value alone stands for a list of it
        if not isinstance(value, list | tuple):
            return value
        parse = _SPAN_PARSERS[info.field_name or ""]
        return [parse(item) for item in value]

    @field_validator("times", "weekdays", "days_of_month", "months", "years")
    @classmethod
    def _not_empty(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if value is not None and not value:
            raise ValueError(
                "an empty list matches nothing; leave the field out to match every value"
            )
        return value

    @field_validator("location")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_of(value)
        return value

    def contains(self, instant: float) -> bool:
        """Whether the wall clock of `location` at `instant` is inside the interval."""
        local = datetime.fromtimestamp(instant, zone_of(self.location))
        minute = local.hour * 60 + local.minute
        if self.times is not None and not any(
            t.start_time <= minute < t.end_time for t in self.times
        ):
            return False
        if self.days_of_month is not None and not any(
            _day_in(local.date(), span) for span in self.days_of_month
        ):
            return False
        if self.months is not None and not _in(local.month, self.months):
            return False
        weekday = (local.weekday() + 1) % 7  # Python counts from Monday, Go from Sunday
        if self.weekdays is not None and not _in(weekday, self.weekdays):
            return False
        return self.years is None or _in(local.year, self.years)

    def boundary_minutes(self) -> set[int]:
        """The minutes of a day at which this interval may start or stop holding."""
        minutes = {0}
        for t in self.times or ():
            minutes.update(m for m in (t.start_time, t.end_time) if m < MINUTES_PER_DAY)
        return minutes


class NamedTimeInterval(BaseModel):
    """A `time_intervals:` entry: a name, and the intervals that make it up (any holds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    time_intervals: tuple[TimeInterval, ...]

    @field_validator("time_intervals")
    @classmethod
    def _some(cls, value: tuple[TimeInterval, ...]) -> tuple[TimeInterval, ...]:
        if not value:
            raise ValueError("list at least one interval (an empty list would never hold)")
        return value

    def contains(self, instant: float) -> bool:
        return any(interval.contains(instant) for interval in self.time_intervals)


def zone_of(name: str) -> ZoneInfo:
    """The time zone of an IANA name, or a ValueError that names it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{name[:60]!r} is not a time zone (an IANA name, like Europe/Berlin)"
        ) from None


def _in(value: int, spans: Iterable[Span]) -> bool:
    return any(first <= value <= last for first, last in spans)


def _day_in(day: date, span: Span) -> bool:
    """Alertmanager's reading: negative days count back from the month's end, and a range
    is cut at the month's end (`25:31` in February ends on the 28th or 29th)."""
    length = _days_in_month(day)
    first, last = ((d + length + 1 if d < 0 else d) for d in span)
    if first > length:
        return False
    return first <= day.day <= min(last, length)


def _days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


@dataclass(frozen=True, slots=True)
class MuteState:
    """A route at an instant: muted or not, why, and when that next changes."""

    muted: bool
    why: str
    # The next instant the answer changes; None: not within SCAN_DAYS.
    changes_at: float | None

    def muted_until(self, instant: float) -> float | None:
        """When a muted route may notify again (None: it is not muted). A mute with no
        end in sight is looked at again after SCAN_DAYS."""
        if not self.muted:
            return None
        return self.changes_at if self.changes_at is not None else instant + SCAN_SECONDS


NOT_MUTED = MuteState(muted=False, why="no time intervals", changes_at=None)


def mute_state(
    mute: tuple[NamedTimeInterval, ...], active: tuple[NamedTimeInterval, ...], instant: float
) -> MuteState:
    """Whether a route with these mute and active intervals is muted at `instant`."""
    if not mute and not active:
        return NOT_MUTED
    muted = _muted(mute, active, instant)
    changes_at = None
    for candidate in _boundaries((*mute, *active), instant):
        if _muted(mute, active, candidate) != muted:
            changes_at = candidate
            break
    return MuteState(muted=muted, why=_why(mute, active, instant), changes_at=changes_at)


def muted_until(
    mute: tuple[NamedTimeInterval, ...], active: tuple[NamedTimeInterval, ...], instant: float
) -> float | None:
    """`mute_state(…).muted_until(instant)`, without looking ahead for the next change when
    the route is not muted — the common answer, asked for every due group at every flush."""
    if not _muted(mute, active, instant):
        return None
    return mute_state(mute, active, instant).muted_until(instant)


def _muted(
    mute: tuple[NamedTimeInterval, ...], active: tuple[NamedTimeInterval, ...], instant: float
) -> bool:
    if any(named.contains(instant) for named in mute):
        return True
    return bool(active) and not any(named.contains(instant) for named in active)


def _why(
    mute: tuple[NamedTimeInterval, ...], active: tuple[NamedTimeInterval, ...], instant: float
) -> str:
    muting = [named.name for named in mute if named.contains(instant)]
    if muting:
        return f"inside mute_time_intervals {', '.join(repr(n) for n in muting)}"
    listed = ", ".join(repr(named.name) for named in active)
    if active and not any(named.contains(instant) for named in active):
        return f"outside every active_time_intervals ({listed})"
    inside = [named.name for named in active if named.contains(instant)]
    parts = [f"inside active_time_intervals {', '.join(repr(n) for n in inside)}"] if inside else []
    if mute:
        parts.append("outside every mute_time_intervals")
    return "; ".join(parts)


def _boundaries(named: Iterable[NamedTimeInterval], instant: float) -> Iterator[float]:
    """Every instant after `instant`, in order and up to SCAN_DAYS ahead, at which one of
    the intervals may start or stop holding."""
    minutes_by_zone: dict[str, set[int]] = {}
    for entry in named:
        for interval in entry.time_intervals:
            minutes_by_zone.setdefault(interval.location, set()).update(interval.boundary_minutes())
    streams = [
        _zone_boundaries(zone_of(zone), sorted(minutes), instant)
        for zone, minutes in minutes_by_zone.items()
    ]
    previous = instant
    for candidate in heapq.merge(*streams):
        if candidate > previous:
            previous = candidate
            yield candidate


def _zone_boundaries(zone: ZoneInfo, minutes: list[int], instant: float) -> Iterator[float]:
    """One zone's boundary instants, in order: each boundary minute of each local day
    (both of its instants when a clock set back makes it happen twice) and the instant
    the clock jumps (where a minute skipped by a clock set forward takes effect)."""
    first_day = datetime.fromtimestamp(instant, zone).date()
    carried: list[float] = []
    for offset in range(SCAN_DAYS + 1):
        day = _day_points(zone, first_day + timedelta(days=offset), minutes)
        # A clock set back at midnight can put a day's last instants after the next
        # day's first: hold those back until the next day is known.
        ready = sorted(p for p in carried + day if p < min(day))
        carried = [p for p in carried + day if p >= min(day)]
        yield from (p for p in ready if p > instant)
    yield from sorted(p for p in carried if p > instant)


def _day_points(zone: ZoneInfo, day: date, minutes: list[int]) -> list[float]:
    points: set[float] = set()
    for minute in minutes:
        wall = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minute)
        points.update(wall.replace(fold=fold).timestamp() for fold in (0, 1))
    jump = _offset_change(zone, day)
    if jump is not None:
        points.add(jump)
    return sorted(points)


def _offset_change(zone: ZoneInfo, day: date) -> float | None:
    """The instant during this local day when the zone's UTC offset changes, if it does."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()
    before = _offset(zone, start)
    if _offset(zone, end) == before:
        return None
    low, high = start, end  # offset(low) == before != offset(high)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high


def _offset(zone: ZoneInfo, instant: float) -> timedelta | None:
    return datetime.fromtimestamp(instant, zone).utcoffset()
