"""Durations as people write them, and the numbers that are not durations."""

from __future__ import annotations

import math

import pytest

from receiver.durations import parse_duration


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        ("30s", 30.0),
        ("1h30m", 5400.0),
        (" 5M ", 300.0),
        (2.5, 2.5),
        (0, 0.0),
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
        -1,
        "",
        "5 minutes",
        True,
    ],
)
def test_what_is_not_a_duration(given: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
        parse_duration(given)
