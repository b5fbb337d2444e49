"""Rate limit per destination: a token bucket, as arithmetic on its stored state.

A destination (a Slack channel, an SMTP server) gets `rate` messages a second on
average and up to `burst` at once. The bucket lives in the store so that every worker
of every replica shares it; this module only says what a take does to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Take:
    tokens: float  # the bucket's tokens after this take (store them, with `now`)
    wait: float  # 0 if a token was taken; otherwise seconds until one is free


def take_token(tokens: float, updated_at: float, *, now: float, rate: float, burst: int) -> Take:
    """Refill the bucket for the time since `updated_at`, then take one token if any."""
    refilled = min(float(burst), tokens + max(0.0, now - updated_at) * rate)
    if refilled >= 1.0:
        return Take(tokens=refilled - 1.0, wait=0.0)
    return Take(tokens=refilled, wait=(1.0 - refilled) / rate)
