"""engine.ratelimit: the token bucket shared by every worker of a destination."""

from __future__ import annotations

import pytest

from receiver.engine.ratelimit import Take, take_token


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
