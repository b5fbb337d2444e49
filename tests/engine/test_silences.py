"""engine.silences: which silence mutes a failure, its state, and what a valid one is."""

from __future__ import annotations

import re

import pytest

from receiver.engine.matchers import Matcher
from receiver.engine.silences import (
    Silence,
    SilenceRequest,
    muting,
    new_silence,
)

NOW = 10_000.0


def silence(*matchers: str, starts: float = 0.0, ends: float = 20_000.0) -> Silence:
    return Silence(
        id="-".join(matchers),
        matchers=tuple(Matcher.parse(m) for m in matchers),
        starts_at=starts,
        ends_at=ends,
        comment="c",
        author="a",
        created_at=0.0,
        expired_at=None,
    )


@pytest.mark.parametrize(
    ("item", "state"),
    [
        (silence("a=b"), "active"),
        (silence("a=b", starts=NOW + 1), "pending"),
        (silence("a=b", ends=NOW), "expired"),  # ends_at is exclusive
        (silence("a=b", starts=NOW), "active"),  # starts_at is inclusive
    ],
)
def test_state(item: Silence, state: str) -> None:
    assert item.state(NOW) == state


def test_an_expired_silence_is_expired_whatever_its_window() -> None:
    item = silence("a=b")
    done = Silence(
        id=item.id,
        matchers=item.matchers,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        comment=item.comment,
        author=item.author,
        created_at=item.created_at,
        expired_at=NOW - 1,
    )
    assert done.state(NOW) == "expired"


LABELS = {"model_id": "flux-pro", "category": "rate_limit"}


@pytest.mark.parametrize(
    ("silences", "muted_by"),
    [
        ([], None),
        # every matcher of a silence must match
        ([silence("model_id=flux-pro", "category=timeout")], None),
        (
            [silence("model_id=flux-pro", "category=rate_limit")],
            "model_id=flux-pro-category=rate_limit",
        ),
        # the first active one that matches wins
        (
            [
                silence("model_id=sdxl"),
                silence("model_id=~flux-.*"),
                silence("category=rate_limit"),
            ],
            "model_id=~flux-.*",
        ),
        # a pending silence mutes nothing yet
        ([silence("model_id=flux-pro", starts=NOW + 60)], None),
    ],
)
def test_muting(silences: list[Silence], muted_by: str | None) -> None:
    found = muting(silences, LABELS, NOW)
    assert (found.id if found else None) == muted_by


def request(**changes: object) -> SilenceRequest:
    base: dict[str, object] = {
        "matchers": ["model_id=flux-pro"],
        "ends_at": NOW + 3600,
        "comment": "outage",
        "author": "oncall",
    }
    base.update(changes)
    return SilenceRequest.model_validate(base)


def test_a_new_silence_starts_now_unless_told() -> None:
    made = new_silence(request(), silence_id="s1", now=NOW)
    assert (made.id, made.starts_at, made.ends_at, made.created_at) == ("s1", NOW, NOW + 3600, NOW)
    later = new_silence(request(starts_at=NOW + 60), silence_id="s2", now=NOW)
    assert later.state(NOW) == "pending"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        # A silence that has already ended.
        ({"ends_at": NOW}, "in the future"),
        # Longer than 90 days, by a second.
        ({"starts_at": NOW, "ends_at": NOW + 90 * 86400 + 1}, "at most 90 days"),
        # Counted from its start, not from now.
        ({"starts_at": NOW + 60, "ends_at": NOW + 60 + 90 * 86400 + 1}, "at most 90 days"),
    ],
)
def test_a_silence_window_is_checked(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        new_silence(request(**changes), silence_id="s", now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        # Exactly 90 days from now.
        {"ends_at": NOW + 90 * 86400},
        # Exactly 90 days from a later start.
        {"starts_at": NOW + 60, "ends_at": NOW + 60 + 90 * 86400},
        # One second.
        {"ends_at": NOW + 1},
    ],
)
def test_the_longest_and_shortest_silences(changes: dict[str, object]) -> None:
    made = new_silence(request(**changes), silence_id="s", now=NOW)
    assert made.ends_at == changes["ends_at"]


LAST_TIME = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second a listing can show


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        # Matchers: at least one, at most 20.
        ({"matchers": []}, "at least 1 item"),
        ({"matchers": [f"l{i}=v" for i in range(21)]}, "at most 20 items"),
        # A comment and an author, neither empty nor too long.
        ({"comment": ""}, "at least 1 character"),
        ({"comment": "c" * 1001}, "at most 1000 characters"),
        ({"author": ""}, "at least 1 character"),
        ({"author": "a" * 201}, "at most 200 characters"),
        # Text no store can hold.
        ({"comment": "out\x00age"}, "cannot hold a NUL character"),
        ({"author": "on\x00call"}, "cannot hold a NUL character"),
        # Times: finite, from 1970 to 9999.
        ({"ends_at": float("nan")}, "not a time between 1970 and 9999"),
        ({"ends_at": float("inf")}, "not a time between 1970 and 9999"),
        ({"ends_at": LAST_TIME + 1}, "not a time between 1970 and 9999"),
        ({"starts_at": -1.0}, "not a time between 1970 and 9999"),
        # The window ends after it starts.
        ({"starts_at": NOW + 10, "ends_at": NOW + 10}, "ends_at must be after starts_at"),
        ({"starts_at": NOW + 10, "ends_at": NOW + 5}, "ends_at must be after starts_at"),
        # Nothing else.
        ({"creator": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_what_a_request_refuses(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        request(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        # The limits themselves.
        {"comment": "c", "author": "a"},
        {"comment": "c" * 1000, "author": "a" * 200},
        # The first and the last second a listing can show.
        {"starts_at": 0.0},
        {"ends_at": LAST_TIME},
        # No start: it starts when made.
        {"starts_at": None},
    ],
)
def test_what_a_request_accepts(changes: dict[str, object]) -> None:
    made = request(**changes)
    for name, value in changes.items():
        assert getattr(made, name) == value


def test_a_request_may_hold_twenty_matchers() -> None:
    written = [f"l{i}=v" for i in range(20)]
    assert request(matchers=written).matchers == tuple(Matcher.parse(m) for m in written)


def test_a_request_and_a_silence_are_values() -> None:
    with pytest.raises(ValueError, match="frozen"):
        request().comment = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        silence("a=b").comment = "x"  # type: ignore[misc]


def test_describe() -> None:
    item = Silence(
        id="s1",
        matchers=(Matcher("model_id", "=~", "flux-.*"), Matcher("category", "!=", "timeout")),
        starts_at=0.0,
        ends_at=20_000.0,
        comment="outage",
        author="oncall",
        created_at=60.0,
        expired_at=None,
    )
    # As the CLI and the admin API show it: Alertmanager's names and ISO times.
    assert item.describe(now=NOW) == {
        "id": "s1",
        "matchers": ['model_id=~"flux-.*"', 'category!="timeout"'],
        "startsAt": "1970-01-01T00:00:00Z",
        "endsAt": "1970-01-01T05:33:20Z",
        "comment": "outage",
        "author": "oncall",
        "createdAt": "1970-01-01T00:01:00Z",
        "state": "active",
    }


def test_rows_round_trip() -> None:
    item = silence("model_id=~flux-.*", "category!=timeout")
    assert Silence.from_row(item.to_row()) == item


@pytest.mark.timeout(30)
def test_a_catastrophic_regex_matcher_answers_at_once() -> None:
    # Issue 13's attack: with Python's re this took 11.9 s at 28 "a" and doubled with
    # each more; 64 would take centuries. The timeout turns a freeze into a failure.
    matcher = Matcher.parse('model_id=~"(a+)+$"')
    assert not matcher.matches({"model_id": "a" * 64 + "!"})
    assert Matcher.parse('model_id!~"(a+)+$"').matches({"model_id": "a" * 64 + "!"})


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # Backtracking constructs are refused with their name, at parse time.
        ('model_id=~"(flux)-\\1"', "backreference"),
        ('model_id=~"flux(?!-pro)"', "negative lookahead"),
        # Values no store can hold are refused too, naming what is wrong.
        ('model_id="flux\x00"', "a NUL character"),
        ('model_id!="\ud800"', "a lone surrogate (U+D800)"),
    ],
)
def test_matchers_refuse_what_cannot_run_or_be_stored(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        Matcher.parse(text)
