"""engine.ratelimit: the token bucket shared by every worker of a destination."""

from __future__ import annotations

import pytest

from receiver.engine.ratelimit import Take, next_token_at, take_token


@pytest.mark.parametrize(
    ("tokens", "elapsed", "rate", "burst", "expected"),
    [
        # a full bucket gives a token
        (3.0, 0.0, 1.0, 3, Take(tokens=2.0, wait=0.0)),
        # an empty bucket a moment later: wait for the rest of the token
        (0.0, 0.25, 1.0, 3, Take(tokens=0.25, wait=0.75)),
        # exactly one token refilled: take it
        (0.0, 1.0, 1.0, 3, Take(tokens=0.0, wait=0.0)),
        # refill never exceeds the burst
        (2.0, 100.0, 1.0, 3, Take(tokens=2.0, wait=0.0)),
        # a slower rate refills slower: 0.5/s for 1 s is half a token
        (0.0, 1.0, 0.5, 3, Take(tokens=0.5, wait=1.0)),
        # a clock that went backwards refills nothing (and takes nothing it lacks)
        (0.5, -10.0, 1.0, 3, Take(tokens=0.5, wait=0.5)),
    ],
)
def test_take_token(tokens: float, elapsed: float, rate: float, burst: int, expected: Take) -> None:
    assert take_token(tokens, 100.0, now=100.0 + elapsed, rate=rate, burst=burst) == expected


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
