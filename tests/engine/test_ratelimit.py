"""engine.ratelimit: the token bucket shared by every worker of a destination, and how
many of its tokens a delivery takes."""

from __future__ import annotations

import pytest

from receiver.engine.ratelimit import Take, api_calls, next_token_at, take_tokens
from receiver.model import Reason


@pytest.mark.parametrize(
    ("tokens", "elapsed", "rate", "burst", "calls", "expected"),
    [
        # a full bucket gives a token
        (3.0, 0.0, 1.0, 3, 1, Take(tokens=2.0, wait=0.0)),
        # an empty bucket a moment later: wait for the rest of the token
        (0.0, 0.25, 1.0, 3, 1, Take(tokens=0.25, wait=0.75)),
        # exactly one token refilled: take it
        (0.0, 1.0, 1.0, 3, 1, Take(tokens=0.0, wait=0.0)),
        # refill never exceeds the burst
        (2.0, 100.0, 1.0, 3, 1, Take(tokens=2.0, wait=0.0)),
        # a slower rate refills slower: 0.5/s for 1 s is half a token
        (0.0, 1.0, 0.5, 3, 1, Take(tokens=0.5, wait=1.0)),
        # a clock that went backwards refills nothing (and takes nothing it lacks)
        (0.5, -10.0, 1.0, 3, 1, Take(tokens=0.5, wait=0.5)),
        # two calls take two tokens at once
        (3.0, 0.0, 1.0, 3, 2, Take(tokens=1.0, wait=0.0)),
        # one token is not enough for two calls: wait for the second, take nothing
        (1.0, 0.0, 1.0, 3, 2, Take(tokens=1.0, wait=1.0)),
        # one and a half tokens: the second call's token is half a second away
        (0.5, 1.0, 1.0, 3, 2, Take(tokens=1.5, wait=0.5)),
        # a burst of exactly two serves a two-call delivery
        (0.0, 100.0, 1.0, 2, 2, Take(tokens=0.0, wait=0.0)),
        # no call, no token (and no wait, even from an empty bucket)
        (0.0, 0.0, 1.0, 3, 0, Take(tokens=0.0, wait=0.0)),
    ],
)
def test_take_tokens(
    tokens: float, elapsed: float, rate: float, burst: int, calls: int, expected: Take
) -> None:
    got = take_tokens(tokens, 100.0, now=100.0 + elapsed, rate=rate, burst=burst, calls=calls)
    assert got == expected


@pytest.mark.parametrize(
    ("reason", "updates_in_place", "threaded", "calls"),
    [
        # e-mail, console, Slack webhook: one message per notification, whatever it is
        (Reason.FIRST, False, False, 1),
        (Reason.NEW_FAILURES, False, True, 1),
        (Reason.RESOLVED, False, True, 1),
        (Reason.DIGEST, False, False, 1),
        # Slack bot, an incident's first message: one post
        (Reason.FIRST, True, False, 1),
        # Slack bot, a later flush of a posted incident: chat.update + thread reply
        (Reason.NEW_FAILURES, True, True, 2),
        (Reason.NEW_ERROR, True, True, 2),
        (Reason.RESOLVED, True, True, 2),
        # Slack bot, an acknowledgement on a posted incident: update + thread reply
        (Reason.ACTION, True, True, 2),
        # Slack bot, a repeat: a fresh top-level post, even with a thread
        (Reason.REPEAT, True, True, 1),
        # Slack bot, a later flush whose first message never went out: one post
        (Reason.NEW_FAILURES, True, False, 1),
        # Slack bot, an action on an incident with no message: nothing is sent
        (Reason.ACTION, True, False, 0),
        # Slack bot, a digest (never threaded): one post
        (Reason.DIGEST, True, False, 1),
    ],
)
def test_api_calls(reason: Reason, updates_in_place: bool, threaded: bool, calls: int) -> None:
    assert api_calls(reason, updates_in_place=updates_in_place, threaded=threaded) == calls


@pytest.mark.parametrize(
    ("tokens", "elapsed", "rate", "at"),
    [
        # A whole token already: now.
        (1.0, 0.0, 1.0, 100.0),
        # A token and a half: now, not earlier.
        (1.5, 0.0, 1.0, 100.0),
        # Exactly one refilled: now.
        (0.0, 2.0, 0.5, 102.0),
        # Half a token at 1/s: half a second from now.
        (0.5, 0.0, 1.0, 100.5),
        # A quarter at 0.5/s: the other three quarters take 1.5 s.
        (0.0, 0.5, 0.5, 102.0),
        # Nearly a token: a little later, not now.
        (0.9, 0.0, 1.0, 100.1),
    ],
)
def test_next_token_at(tokens: float, elapsed: float, rate: float, at: float) -> None:
    now = 100.0 + elapsed
    assert next_token_at(tokens, 100.0, now=now, rate=rate, burst=3) == pytest.approx(at)


def test_a_take_is_a_value() -> None:
    with pytest.raises(AttributeError):
        Take(tokens=1.0, wait=0.0).wait = 1.0  # type: ignore[misc]
