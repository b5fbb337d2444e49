"""Time intervals as tables: (interval, instant) → inside?; (route's intervals, instant) →
muted, and until when; (written field) → parsed or the error it gives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from receiver.engine.timeintervals import (
    SCAN_SECONDS,
    NamedTimeInterval,
    TimeInterval,
    mute_state,
    muted_until,
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def named(name: str, *intervals: dict[str, Any]) -> NamedTimeInterval:
    return NamedTimeInterval.model_validate({"name": name, "time_intervals": list(intervals)})


WORK_HOURS = {"start_time": "09:00", "end_time": "17:00"}
NIGHT_END = {"start_time": "22:00", "end_time": "24:00"}

CONTAINS = [
    # An interval that sets nothing holds always.
    ({}, "2026-12-05T03:00:00+00:00", True),
    # `times`: the start minute is inside ...
    ({"times": [WORK_HOURS]}, "2026-12-07T09:00:00+00:00", True),
    # ... the end minute is not (end exclusive) ...
    ({"times": [WORK_HOURS]}, "2026-12-07T17:00:00+00:00", False),
    # ... and seconds do not count: 16:59:59 is the minute 16:59.
    ({"times": [WORK_HOURS]}, "2026-12-07T16:59:59+00:00", True),
    # 24:00 ends a range at midnight.
    ({"times": [{"start_time": "22:00", "end_time": "24:00"}]}, "2026-12-07T23:59:00+00:00", True),
    # Several ranges: any of them.
    (
        {
            "times": [
                {"start_time": "00:00", "end_time": "06:00"},
                {"start_time": "22:00", "end_time": "24:00"},
            ]
        },
        "2026-12-07T05:30:00+00:00",
        True,
    ),
    # `weekdays`: a range includes both ends (2026-12-04 is a Friday) ...
    ({"weekdays": ["monday:friday"]}, "2026-12-04T12:00:00+00:00", True),
    # ... and a Saturday is outside it.
    ({"weekdays": ["monday:friday"]}, "2026-12-05T12:00:00+00:00", False),
    # Sunday is a day of its own (Go counts it as 0, Python's weekday() as 6).
    ({"weekdays": ["sunday"]}, "2026-12-06T12:00:00+00:00", True),
    # Names are read without regard to case, as Alertmanager reads them.
    ({"weekdays": ["Saturday"]}, "2026-12-05T12:00:00+00:00", True),
    # `location`: 03:00 UTC on Saturday is still Friday 22:00 in New York.
    (
        {"weekdays": ["saturday", "sunday"], "location": "America/New_York"},
        "2026-12-05T03:00:00+00:00",
        False,
    ),
    # ... and 09:00 in Berlin is 08:00 UTC in winter ...
    ({"times": [WORK_HOURS], "location": "Europe/Berlin"}, "2026-12-07T08:00:00+00:00", True),
    # ... but 07:00 UTC in summer (daylight saving time).
    ({"times": [WORK_HOURS], "location": "Europe/Berlin"}, "2026-07-06T07:00:00+00:00", True),
    ({"times": [WORK_HOURS], "location": "Europe/Berlin"}, "2026-07-06T06:59:00+00:00", False),
    # `days_of_month`: -1 is the last day of the month, whatever its length ...
    ({"days_of_month": [-1]}, "2026-02-28T12:00:00+00:00", True),
    ({"days_of_month": [-1]}, "2028-02-28T12:00:00+00:00", False),  # a leap year
    ({"days_of_month": [-1]}, "2028-02-29T12:00:00+00:00", True),
    ({"days_of_month": [-1]}, "2026-04-30T12:00:00+00:00", True),
    # ... a negative range counts back from it ...
    ({"days_of_month": ["-3:-1"]}, "2026-02-26T00:00:00+00:00", True),
    ({"days_of_month": ["-3:-1"]}, "2026-02-25T23:59:00+00:00", False),
    # ... a range past the month's end is cut there ...
    ({"days_of_month": ["25:31"]}, "2026-02-28T12:00:00+00:00", True),
    # ... a day the month does not have never holds ...
    ({"days_of_month": [31]}, "2026-04-30T12:00:00+00:00", False),
    # ... and a positive start may end counted from the end.
    ({"days_of_month": ["15:-1"]}, "2026-02-28T12:00:00+00:00", True),
    ({"days_of_month": ["15:-1"]}, "2026-02-14T12:00:00+00:00", False),
    # The day of the month is the local one: 23:30 UTC on the 31st is the 1st in Berlin.
    (
        {"days_of_month": [1], "location": "Europe/Berlin"},
        "2026-12-31T23:30:00+00:00",
        True,
    ),
    # `months`: names and numbers, ranges.
    ({"months": ["december"]}, "2026-12-05T12:00:00+00:00", True),
    ({"months": ["1:3"]}, "2026-03-31T23:59:00+00:00", True),
    ({"months": ["january:march"]}, "2026-04-01T00:00:00+00:00", False),
    # `years`: ranges, read on the local clock across the new year.
    ({"years": ["2026:2027"]}, "2027-12-31T23:59:00+00:00", True),
    ({"years": ["2026"]}, "2026-12-31T23:30:00+00:00", True),
    ({"years": ["2026"], "location": "Asia/Tokyo"}, "2026-12-31T23:30:00+00:00", False),
    # Every field set must hold: a weekday in the wrong month is outside.
    ({"weekdays": ["saturday"], "months": ["january"]}, "2026-12-05T12:00:00+00:00", False),
]


@pytest.mark.parametrize(("fields", "instant", "inside"), CONTAINS)
def test_contains(fields: dict[str, Any], instant: str, inside: bool) -> None:
    assert TimeInterval.model_validate(fields).contains(at(instant)) is inside


WEEKEND = named("weekend", {"weekdays": ["saturday", "sunday"], "location": "Europe/Berlin"})
OFFICE = named(
    "office",
    {"weekdays": ["monday:friday"], "times": [WORK_HOURS], "location": "America/New_York"},
)
# Berlin sets its clocks forward at 02:00 on 2026-03-29 and back at 03:00 on 2026-10-25.
NIGHT_BERLIN = named(
    "night", {"times": [{"start_time": "02:30", "end_time": "06:00"}], "location": "Europe/Berlin"}
)
YEAR_2027 = named("next-year", {"years": ["2027"]})
MONTH_END = named("month-end", {"days_of_month": ["-1"]})

MUTES = [
    # No interval: never muted.
    ((), (), "2026-12-05T03:00:00+00:00", False, None),
    # Inside a mute interval: muted until Berlin's Monday begins (23:00 UTC on Sunday).
    ((WEEKEND,), (), "2026-12-05T03:00:00+00:00", True, "2026-12-06T23:00:00+00:00"),
    # Outside it: not muted, until the weekend begins in Berlin.
    ((WEEKEND,), (), "2026-12-04T12:00:00+00:00", False, "2026-12-04T23:00:00+00:00"),
    # Outside every active interval: muted until the office opens on Monday in New York.
    ((), (OFFICE,), "2026-12-05T03:00:00+00:00", True, "2026-12-07T14:00:00+00:00"),
    # Inside one: not muted, until it closes.
    ((), (OFFICE,), "2026-12-07T15:00:00+00:00", False, "2026-12-07T22:00:00+00:00"),
    # A mute interval wins over an active one.
    ((WEEKEND,), (OFFICE,), "2026-12-07T15:00:00+00:00", False, "2026-12-07T22:00:00+00:00"),
    # Spring forward: 02:30 never happens in Berlin that night; the mute starts when the
    # clock jumps from 02:00 to 03:00 (01:00 UTC) ...
    ((NIGHT_BERLIN,), (), "2026-03-29T00:10:00+00:00", False, "2026-03-29T01:00:00+00:00"),
    # ... and ends at 06:00 summer time (04:00 UTC).
    ((NIGHT_BERLIN,), (), "2026-03-29T01:30:00+00:00", True, "2026-03-29T04:00:00+00:00"),
    # Fall back: 02:30 happens twice; the mute starts at the first (00:30 UTC) ...
    ((NIGHT_BERLIN,), (), "2026-10-25T00:00:00+00:00", False, "2026-10-25T00:30:00+00:00"),
    # ... stops when the clock goes back from 03:00 to 02:00, before 02:30 (01:00 UTC) ...
    ((NIGHT_BERLIN,), (), "2026-10-25T00:45:00+00:00", True, "2026-10-25T01:00:00+00:00"),
    # ... and starts again at the second 02:30, to 06:00 winter time (05:00 UTC).
    ((NIGHT_BERLIN,), (), "2026-10-25T01:10:00+00:00", False, "2026-10-25T01:30:00+00:00"),
    ((NIGHT_BERLIN,), (), "2026-10-25T01:30:00+00:00", True, "2026-10-25T05:00:00+00:00"),
    # Month ends: active only on the last day; on 2028-02-01 that is the 29th (leap year).
    ((), (MONTH_END,), "2028-02-01T00:00:00+00:00", True, "2028-02-29T00:00:00+00:00"),
    # Year boundary: active only in 2027, muted until it begins.
    ((), (YEAR_2027,), "2026-06-01T00:00:00+00:00", True, "2027-01-01T00:00:00+00:00"),
    # ... and after it ends, muted for good: no change within the scan.
    ((), (YEAR_2027,), "2028-01-01T00:00:00+00:00", True, None),
]


@pytest.mark.parametrize(("mute", "active", "instant", "muted", "changes_at"), MUTES)
def test_mute_state(
    mute: tuple[NamedTimeInterval, ...],
    active: tuple[NamedTimeInterval, ...],
    instant: str,
    muted: bool,
    changes_at: str | None,
) -> None:
    state = mute_state(mute, active, at(instant))
    assert state.muted is muted
    assert state.changes_at == (None if changes_at is None else at(changes_at))


def test_why_names_the_interval() -> None:
    saturday = at("2026-12-05T03:00:00+00:00")
    assert mute_state((WEEKEND,), (), saturday).why == "inside mute_time_intervals 'weekend'"
    assert (
        mute_state((), (OFFICE,), saturday).why == "outside every active_time_intervals ('office')"
    )
    monday = at("2026-12-07T15:00:00+00:00")
    assert mute_state((), (OFFICE,), monday).why == "inside active_time_intervals 'office'"
    assert mute_state((WEEKEND,), (), monday).why == "outside every mute_time_intervals"


def test_muted_until_is_the_change_or_a_look_again_after_the_scan() -> None:
    june = at("2026-06-01T00:00:00+00:00")
    assert mute_state((), (YEAR_2027,), june).muted_until(june) == at("2027-01-01T00:00:00+00:00")
    later = at("2028-01-01T00:00:00+00:00")
    assert mute_state((), (YEAR_2027,), later).muted_until(later) == later + SCAN_SECONDS
    assert mute_state((WEEKEND,), (), june).muted_until(june) is None  # a Monday: not muted
    # The shortcut the flush asks gives the same answers.
    assert muted_until((), (YEAR_2027,), june) == at("2027-01-01T00:00:00+00:00")
    assert muted_until((), (YEAR_2027,), later) == later + SCAN_SECONDS
    assert muted_until((WEEKEND,), (), june) is None
    assert muted_until((), (), june) is None


BAD_FIELDS = [
    # A weekday range runs forward (Alertmanager has no wrap-around).
    ({"weekdays": ["saturday:sunday"]}, "a weekday range runs forward"),
    ({"weekdays": ["someday"]}, "'someday' is not a weekday"),
    ({"weekdays": ["monday:tuesday:friday"]}, "is one value or a range FIRST:LAST"),
    # Times are HH:MM, two digits, the end after the start.
    ({"times": [{"start_time": "9:00", "end_time": "17:00"}]}, "is not a time of day"),
    ({"times": [{"start_time": "17:00", "end_time": "09:00"}]}, "end_time must be after"),
    ({"times": [{"start_time": "24:01", "end_time": "24:00"}]}, "is not a time of day"),
    # YAML reads an unquoted 17:00 as the number 1020.
    ({"times": [{"start_time": 1020, "end_time": "18:00"}]}, "write it in quotes"),
    # Day 0 does not exist; 32 neither; YAML reads 1:7 as 67.
    ({"days_of_month": [0]}, "0 is not a day of the month"),
    ({"days_of_month": [67]}, "write it in quotes"),
    # A range from the end of the month ends there too.
    ({"days_of_month": ["-3:5"]}, "ends there too"),
    # A range backwards even in a 28-day month.
    ({"days_of_month": ["10:-25"]}, "the range ends before it starts"),
    ({"months": ["march:january"]}, "a month range runs forward"),
    ({"months": ["13"]}, "13 is not a month"),
    ({"years": ["2027:2026"]}, "the range ends before it starts"),
    ({"years": ["0"]}, "0 is not a year"),
    # A time zone is an IANA name.
    ({"location": "Mars/Olympus"}, "'Mars/Olympus' is not a time zone"),
    ({"location": "../../etc/passwd"}, "is not a time zone"),
    # An empty list would match nothing: leave the field out instead.
    ({"weekdays": []}, "an empty list matches nothing"),
    ({"colour": "blue"}, "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("fields", "error"), BAD_FIELDS)
def test_bad_fields_say_what_is_wrong(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TimeInterval.model_validate(fields)
    assert error in str(caught.value)


def test_a_single_value_stands_for_a_list() -> None:
    assert TimeInterval.model_validate({"weekdays": "monday:friday"}).weekdays == ((1, 5),)
    assert TimeInterval.model_validate({"days_of_month": -1}).days_of_month == ((-1, -1),)


SCALARS = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-100_000, max_value=100_000),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
)
FIELD_VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4))
ANY_INTERVAL = st.dictionaries(
    st.sampled_from(["weekdays", "days_of_month", "months", "years", "location", "times", "x"]),
    st.one_of(
        FIELD_VALUES,
        st.lists(st.dictionaries(st.sampled_from(["start_time", "end_time"]), SCALARS), max_size=3),
    ),
    max_size=4,
)


# Nested dictionaries of mixed scalars are slow to draw on a busy machine; how long the
# drawing takes is not what this test is about.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(ANY_INTERVAL)
def test_any_input_is_parsed_or_refused_clearly(fields: dict[str, Any]) -> None:
    try:
        interval = TimeInterval.model_validate(fields)
    except ValidationError:
        return
    interval.contains(at("2026-12-05T03:00:00+00:00"))


WEEKDAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]


@given(
    st.integers(0, 6),
    st.integers(0, 6),
    st.integers(0, 1439),
    st.integers(1, 1440),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"]),
    st.integers(1_700_000_000, 2_000_000_000),
)
@example(first=0, last=6, start=0, end=1440, zone="UTC", instant=1_700_000_000)
def test_the_found_change_is_the_first_one(
    first: int, last: int, start: int, end: int, zone: str, instant: int
) -> None:
    """Whatever a valid interval, the state holds at every minute up to the change the
    scan finds, and differs there."""
    first, last = min(first, last), max(first, last)
    start, end = min(start, end - 1), max(start + 1, end)
    clock = f"{end // 60:02d}:{end % 60:02d}"
    interval = named(
        "n",
        {
            "weekdays": [f"{WEEKDAY_NAMES[first]}:{WEEKDAY_NAMES[last]}"],
            "times": [{"start_time": f"{start // 60:02d}:{start % 60:02d}", "end_time": clock}],
            "location": zone,
        },
    )
    state = mute_state((interval,), (), float(instant))
    if (first, last, start, end) == (0, 6, 0, 1440):
        # every minute of every day: the interval always holds and never changes
        assert state.muted
        assert state.changes_at is None
        return
    assert state.changes_at is not None  # any other weekly interval changes within a week
    assert state.changes_at - instant <= 8 * 86400
    assert mute_state((interval,), (), state.changes_at).muted is not state.muted
    minute = instant - instant % 60 + 60
    while minute < state.changes_at:
        assert interval.contains(minute) is state.muted
        minute += 60 * 37  # a coprime stride keeps the check cheap and still covers a week


def message(fields: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        TimeInterval.model_validate(fields)
    [error] = caught.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


DAY = "a day of the month (1 … 31, or -31 … -1 from the month's end)"
QUOTES = "write it in quotes (YAML reads an unquoted 17:00 or 1:7 as a number)"

MESSAGES = [
    # Each field names itself when a value is not one value or a range.
    (
        {"weekdays": ["monday:tuesday:friday"]},
        "'monday:tuesday:friday': a weekday is one value or a range FIRST:LAST",
    ),
    (
        {"days_of_month": ["1:2:3"]},
        "'1:2:3': a day of the month is one value or a range FIRST:LAST",
    ),
    ({"months": ["1:2:3"]}, "'1:2:3': a month is one value or a range FIRST:LAST"),
    ({"years": ["1:2:3"]}, "'1:2:3': a year is one value or a range FIRST:LAST"),
    # A backwards range says which way ranges run.
    (
        {"weekdays": ["saturday:sunday"]},
        "'saturday:sunday': a weekday range runs forward within sunday:saturday",
    ),
    (
        {"months": ["march:january"]},
        "'march:january': a month range runs forward within january:december",
    ),
    ({"years": ["2027:2026"]}, "'2027:2026': the range ends before it starts"),
    # Not a number at all: the text is quoted back, not a Python error.
    ({"days_of_month": ["x"]}, f"'x' is not {DAY}"),
    ({"months": ["x"]}, "'x' is not a month (january … december, or 1 … 12)"),
    ({"years": ["12345"]}, "'12345' is not a year"),
    # Day 32 and -32 do not exist; only a number YAML made (an int) gets the quoting hint.
    ({"days_of_month": ["32"]}, f"32 is not {DAY}"),
    ({"days_of_month": [32]}, f"32 is not {DAY}; {QUOTES}"),
    ({"days_of_month": ["-32"]}, f"-32 is not {DAY}"),
    ({"days_of_month": [0]}, f"0 is not {DAY}"),
    # A time of day as a YAML number, and as neither text nor a number.
    ({"times": [{"start_time": 1020, "end_time": "18:00"}]}, f"a time of day is HH:MM; {QUOTES}"),
    ({"times": [{"start_time": 9.5, "end_time": "18:00"}]}, "a time of day is HH:MM, like '09:00'"),
    # A list item that is not text (here null), and one too long to be a value (41 characters).
    ({"weekdays": [None]}, "a weekday: expected text, like the examples in the README"),
    ({"weekdays": ["x" * 41]}, f"a weekday: {'x' * 40!r}… is too long to be one"),
    # ... while 40 characters are still read as a (wrong) name.
    ({"weekdays": ["x" * 40]}, f"{'x' * 40!r} is not a weekday (sunday … saturday)"),
    # An empty range: the end must come after the start.
    (
        {"times": [{"start_time": "09:00", "end_time": "09:00"}]},
        "end_time must be after start_time (a range ends by 24:00)",
    ),
    # A negative start with a positive end, even ending on the 1st, is refused as such.
    (
        {"days_of_month": ["-5:1"]},
        "'-5:1': a range that starts from the month's end ends there too",
    ),
    # Backwards among days counted from the end.
    ({"days_of_month": ["-1:-3"]}, "'-1:-3': the range ends before it starts"),
    # As Alertmanager (-2 read as 28): 29:-2 is backwards.
    ({"days_of_month": ["29:-2"]}, "'29:-2': the range ends before it starts"),
]


@pytest.mark.parametrize(("fields", "error"), MESSAGES)
def test_error_messages_in_full(fields: dict[str, Any], error: str) -> None:
    assert message(fields) == error


def test_a_field_that_is_not_a_list_is_refused() -> None:
    # A mapping is neither a value nor a list of them: refused, not read as unset.
    with pytest.raises(ValidationError):
        TimeInterval.model_validate({"weekdays": {"monday": 1}})


def test_a_named_interval_lists_at_least_one() -> None:
    # An empty list of intervals would never hold.
    with pytest.raises(ValidationError, match="list at least one interval"):
        NamedTimeInterval.model_validate({"name": "n", "time_intervals": []})


ACCEPTED = [
    # The bounds of each field are values of it.
    ({"days_of_month": [-31]}, "days_of_month", ((-31, -31),)),
    ({"days_of_month": [31]}, "days_of_month", ((31, 31),)),
    ({"months": ["12"]}, "months", ((12, 12),)),
    ({"years": ["1:9999"]}, "years", ((1, 9999),)),
    # A positive range from the 1st.
    ({"days_of_month": ["1:7"]}, "days_of_month", ((1, 7),)),
    # As Alertmanager (-2 read as 28): 28:-2 is accepted (in February it holds on no day) ...
    ({"days_of_month": ["28:-2"]}, "days_of_month", ((28, -2),)),
    # ... and 27:-2 is a range that holds in every month.
    ({"days_of_month": ["27:-2"]}, "days_of_month", ((27, -2),)),
    # Every weekday name, as Go numbers them (Sunday 0).
    (
        {"weekdays": [*WEEKDAY_NAMES]},
        "weekdays",
        ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)),
    ),
    # Every month name, January 1.
    (
        {
            "months": [
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
            ]
        },
        "months",
        tuple((n, n) for n in range(1, 13)),
    ),
]


@pytest.mark.parametrize(("fields", "field", "spans"), ACCEPTED)
def test_accepted_values(fields: dict[str, Any], field: str, spans: Any) -> None:
    assert getattr(TimeInterval.model_validate(fields), field) == spans


@pytest.mark.parametrize(
    ("model", "change"),
    [
        # Parsed intervals are shared by every route that names them: none can be changed.
        (TimeInterval.model_validate({}), ("location", "Europe/Berlin")),
        (TimeInterval.model_validate({"times": [WORK_HOURS]}).times[0], ("end_time", 0)),  # type: ignore[index]
        (WEEKEND, ("name", "other")),
    ],
)
def test_parsed_intervals_are_frozen(model: Any, change: tuple[str, Any]) -> None:
    with pytest.raises(ValidationError):
        setattr(model, *change)


def test_a_mute_state_is_frozen() -> None:
    # A state handed to a caller cannot be changed under another.
    state = mute_state((WEEKEND,), (), at("2026-12-05T03:00:00+00:00"))
    with pytest.raises(AttributeError):
        state.muted = False  # type: ignore[misc]


MORE_CONTAINS = [
    # -1 in December is the 31st (the month after December is January).
    ({"days_of_month": [-1]}, "2026-12-31T12:00:00+00:00", True),
    ({"days_of_month": [-1]}, "2026-12-30T12:00:00+00:00", False),
]


@pytest.mark.parametrize(("fields", "instant", "inside"), MORE_CONTAINS)
def test_contains_more(fields: dict[str, Any], instant: str, inside: bool) -> None:
    assert TimeInterval.model_validate(fields).contains(at(instant)) is inside


OTHER = named("other", {"years": ["2030"]})
ALL_DAY_2028 = named(
    "y2028", {"years": ["2028"], "times": [{"start_time": "00:00", "end_time": "24:00"}]}
)

WHY = [
    # No intervals at all.
    ((), (), "2026-12-05T03:00:00+00:00", "no time intervals"),
    # Outside two active intervals: both listed, comma-separated.
    (
        (),
        (OFFICE, OTHER),
        "2026-12-05T03:00:00+00:00",
        "outside every active_time_intervals ('office', 'other')",
    ),
    # Inside an active interval and outside the mute ones: both said, semicolon-separated.
    (
        (WEEKEND,),
        (OFFICE,),
        "2026-12-07T15:00:00+00:00",
        "inside active_time_intervals 'office'; outside every mute_time_intervals",
    ),
]


@pytest.mark.parametrize(("mute", "active", "instant", "why"), WHY)
def test_why(
    mute: tuple[NamedTimeInterval, ...],
    active: tuple[NamedTimeInterval, ...],
    instant: str,
    why: str,
) -> None:
    assert mute_state(mute, active, at(instant)).why == why


HORIZON = [
    # The scan covers the local day 400 days ahead, up to its midnight: 2026-11-27 + 400
    # days is 2028-01-01, found ...
    ("2026-11-27T12:00:00+00:00", "2028-01-01T00:00:00+00:00"),
    # ... but a day earlier the change is 401 days ahead: not within the scan.
    ("2026-11-26T12:00:00+00:00", None),
]


@pytest.mark.parametrize(("instant", "changes_at"), HORIZON)
def test_the_scan_looks_400_days_ahead(instant: str, changes_at: str | None) -> None:
    state = mute_state((), (ALL_DAY_2028,), at(instant))
    assert state.muted is True
    assert state.changes_at == (None if changes_at is None else at(changes_at))
    # A mute with no end in sight is looked at again 400 days later.
    assert state.muted_until(at(instant)) == (
        at(instant) + 400 * 86400 if changes_at is None else at(changes_at)
    )


# Goose Bay set its clock back from 00:01 on 1991-10-27 to 23:01 on the 26th (03:01 UTC):
# the 26th's last half hour comes again after the 27th has begun.
LATE_GOOSE_BAY = named(
    "late",
    {"times": [{"start_time": "23:30", "end_time": "24:00"}], "location": "America/Goose_Bay"},
)

SET_BACK_ACROSS_MIDNIGHT = [
    # Muted at 23:40 the first time; it ends at midnight (03:00 UTC), before the clock
    # goes back to 23:01 ...
    ("1991-10-27T02:40:00+00:00", True, "1991-10-27T03:00:00+00:00"),
    # ... and starts again at the second 23:30 (03:30 UTC), to the second midnight.
    ("1991-10-27T03:10:00+00:00", False, "1991-10-27T03:30:00+00:00"),
    ("1991-10-27T03:40:00+00:00", True, "1991-10-27T04:00:00+00:00"),
]


@pytest.mark.parametrize(("instant", "muted", "changes_at"), SET_BACK_ACROSS_MIDNIGHT)
def test_a_clock_set_back_across_midnight(instant: str, muted: bool, changes_at: str) -> None:
    state = mute_state((LATE_GOOSE_BAY,), (), at(instant))
    assert (state.muted, state.changes_at) == (muted, at(changes_at))
