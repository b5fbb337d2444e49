"""Durations as people write them, and the numbers that are not durations."""

from __future__ import annotations

import math

import pytest

from receiver.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        # Each unit, with its own factor.
        ("1500ms", 1.5),
        ("30s", 30.0),
        ("2m", 120.0),
        ("3h", 10800.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        # Units combine, and a part may be a decimal.
        ("1h30m", 5400.0),
        ("1w1d1h1m1s", 694861.0),
        ("1.5h", 5400.0),
        # Case and surrounding blanks do not matter.
        (" 5M ", 300.0),
        # Zero is a duration: `group_wait: 0s` sends at once.
        ("0s", 0.0),
        (0, 0.0),
        # A plain number is seconds, a fraction too.
        (2.5, 2.5),
        (45, 45.0),
    ],
)
def test_parse_duration(given: object, seconds: float) -> None:
    assert parse_duration(given) == seconds


@pytest.mark.parametrize(
    "given",
    [
        # YAML reads .nan and .inf as floats: neither is a duration (NaN passed every
        # comparison, so a NaN timeout never fired).
        math.nan,
        math.inf,
        # Below zero, as a number or as text.
        -1,
        -0.5,
        "-5",
        "-5s",
        # Nothing, or words.
        "",
        "   ",
        "5 minutes",
        "yes",
        # A number without its unit, or with a unit that is not one.
        "5",
        "5y",
        # Text after a valid part.
        "5m later",
        # YAML's `yes` is True: a boolean is no number of seconds.
        True,
        False,
        # Neither a number nor text.
        None,
        ["5m"],
    ],
)
def test_what_is_not_a_duration(given: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
        parse_duration(given)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        # Nothing at all, and less than half a second: 0s.
        (0, "0s"),
        (0.4, "0s"),
        # One of each unit.
        (1, "1s"),
        (60, "1m"),
        (3600, "1h"),
        (86400, "1d"),
        # Units combine largest first, and zero parts are left out.
        (90, "1m30s"),
        (93784, "1d2h3m4s"),
        (86401, "1d1s"),
        # Seconds round to the nearest whole one.
        (59.6, "1m"),
        # Weeks are written as days.
        (604800, "7d"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == round(seconds)
