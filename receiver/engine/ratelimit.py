"""Rate limit per destination: a token bucket, as arithmetic on its stored state.

A destination (a Slack channel, an SMTP server) gets `rate` messages a second on
average and up to `burst` at once. The bucket lives in the store so that every worker
of every replica shares it; this module only says what a take does to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Take:
    tokens: float  # the bucket's tokens after this take (store them, with `now`)
    wait: float  # 0 if a token was taken; otherwise seconds until one is free


def take_token(tokens: float, updated_at: float, *, now: float, rate: float, burst: int) -> Take:
    """Refill the bucket for the time since `updated_at`, then take one token if any."""
    refilled = tokens_at(tokens, updated_at, now=now, rate=rate, burst=burst)
    if refilled >= 1.0:
        return Take(tokens=refilled - 1.0, wait=0.0)
    return Take(tokens=refilled, wait=(1.0 - refilled) / rate)


def tokens_at(tokens: float, updated_at: float, *, now: float, rate: float, burst: int) -> float:
    """The bucket's tokens at `now`, refilled since `updated_at` (nothing taken)."""
    return min(float(burst), tokens + max(0.0, now - updated_at) * rate)


def next_token_at(
    tokens: float, updated_at: float, *, now: float, rate: float, burst: int
) -> float:
    """When the bucket next holds a whole token (`now` if it does already)."""
    refilled = tokens_at(tokens, updated_at, now=now, rate=rate, burst=burst)
    return now if refilled >= 1.0 else now + (1.0 - refilled) / rate


def pick_claims(
    candidates: Sequence[tuple[int, str]],
    allowance: Mapping[str, int],
    *,
    default: int,
    limit: int,
) -> list[int]:
    """Which of the due rows (id, destination), in claim order, to claim: no more per
    destination than it has whole tokens (`default` for a destination with no bucket
    yet), and no more than `limit` in all. Claiming what cannot be sent would only
    mean rescheduling it, a commit per row per pass."""
    left = dict(allowance)
    picked: list[int] = []
    for row_id, destination in candidates:
        if len(picked) == limit:
            break
        if left.get(destination, default) > 0:
            left[destination] = left.get(destination, default) - 1
            picked.append(row_id)
    return picked
