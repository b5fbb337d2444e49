"""Retry policy: after a failed send, when to try again, or why to give up.

Retryable failures (network, 5xx, 429) back off exponentially with "equal jitter" (half
fixed, half random) and never sooner than a `Retry-After`, which also pauses the whole
destination; a permanent failure, too many attempts or too old a notification goes to
the dead letter. The delivery worker (`loops.delivery`) is the only one that retries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    max_age: float
    backoff_initial: float
    backoff_max: float


@dataclass(frozen=True, slots=True)
class RetryLater:
    delay: float
    pause_destination_until: float | None  # a Retry-After pauses every row of the destination


@dataclass(frozen=True, slots=True)
class GiveUp:
    why: str  # "permanent", "attempts" or "age"


def backoff(policy: RetryPolicy, attempts: int, rng: random.Random) -> float:
    """The delay before attempt `attempts + 1`: exponential, capped, half of it random."""
    ceiling: float = min(policy.backoff_max, policy.backoff_initial * 2 ** (attempts - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def after_failure(
    policy: RetryPolicy,
    *,
    attempts: int,
    created_at: float,
    now: float,
    retryable: bool,
    retry_after: float | None,
    rng: random.Random,
) -> RetryLater | GiveUp:
    """What to do after the `attempts`-th failed send of a notification made at `created_at`."""
    if not retryable:
        return GiveUp("permanent")
    if attempts >= policy.max_attempts:
        return GiveUp("attempts")
    if now - created_at >= policy.max_age:
        return GiveUp("age")
    delay = backoff(policy, attempts, rng)
    if retry_after is None:
        return RetryLater(delay, None)
    return RetryLater(max(delay, retry_after), now + retry_after)
