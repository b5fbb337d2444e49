"""engine.retry: when a failed send is tried again, and when it goes to the dead letter."""

from __future__ import annotations

import random

import pytest

from receiver.engine.retry import GiveUp, RetryLater, RetryPolicy, after_failure, backoff

POLICY = RetryPolicy(max_attempts=5, max_age=3600.0, backoff_initial=2.0, backoff_max=60.0)
NOW = 10_000.0


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=12, max_age=86400, backoff_initial=1.0, backoff_max=60.0)
    rng = random.Random(7)
    delays = [backoff(policy, n, rng) for n in range(1, 10)]
    ceilings = [min(60.0, 2.0 ** (n - 1)) for n in range(1, 10)]
    # Equal jitter: never below half the ceiling, never above it.
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert delays[-1] >= 30.0  # the cap holds, and the floor with it


class _Fixed(random.Random):
    """A random source that always draws the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("attempts", "created_ago", "retryable", "retry_after", "expected"),
    [
        # a permanent error (4xx other than 429) is buried at once, whatever the attempts
        (1, 0.0, False, None, GiveUp("permanent")),
        # the last allowed attempt failed: no more
        (5, 0.0, True, None, GiveUp("attempts")),
        # too old a notification is news no longer
        (1, 3600.0, True, None, GiveUp("age")),
        # permanence wins over the other reasons
        (5, 3600.0, False, None, GiveUp("permanent")),
        # a first retryable failure: the initial back-off (2 s ceiling, top of the jitter)
        (1, 0.0, True, None, RetryLater(2.0, None)),
        # the third: 8 s
        (3, 10.0, True, None, RetryLater(8.0, None)),
        # Retry-After longer than the back-off: wait that long, and pause the destination
        (1, 0.0, True, 30.0, RetryLater(30.0, NOW + 30.0)),
        # Retry-After shorter than the back-off: the back-off wins, the pause is as asked
        (4, 0.0, True, 1.0, RetryLater(16.0, NOW + 1.0)),
        # just under the age limit still retries
        (1, 3599.0, True, None, RetryLater(2.0, None)),
    ],
)
def test_after_failure(
    attempts: int,
    created_ago: float,
    retryable: bool,
    retry_after: float | None,
    expected: RetryLater | GiveUp,
) -> None:
    decision = after_failure(
        POLICY,
        attempts=attempts,
        created_at=NOW - created_ago,
        now=NOW,
        retryable=retryable,
        retry_after=retry_after,
        rng=_Fixed(),
    )
    assert decision == expected


def test_a_policy_and_its_answers_are_values() -> None:
    # One policy is shared by every send; an answer is stored as it was given.
    for value, field in ((POLICY, "max_attempts"), (GiveUp("age"), "why")):
        with pytest.raises(AttributeError):
            setattr(value, field, 1)
    with pytest.raises(AttributeError):
        RetryLater(1.0, None).delay = 2.0  # type: ignore[misc]
    # Equal answers are one value (a set of them, a dict key).
    assert len({GiveUp("age"), GiveUp("age"), RetryLater(1.0, None), RetryLater(1.0, None)}) == 2
    assert len({POLICY, RetryPolicy(5, 3600.0, 2.0, 60.0)}) == 1
