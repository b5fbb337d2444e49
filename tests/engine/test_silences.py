"""engine.silences: which silence mutes a failure, its state, and what a valid one is."""

from __future__ import annotations

import re

import pytest

from receiver.engine.matchers import Matcher
from receiver.engine.silences import (
    MAX_DURATION,
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
        ({"ends_at": NOW}, "in the future"),
        ({"starts_at": NOW, "ends_at": NOW + MAX_DURATION + 1}, "at most 90 days"),
    ],
)
def test_a_silence_window_is_checked(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        new_silence(request(**changes), silence_id="s", now=NOW)


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
