"""Token buckets per destination: about one message per second to one Slack channel,
with short bursts allowed (Slack's own limit for posting to a channel)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, *, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, destination: str, now: float) -> float:
        """Take a token if there is one and return 0; else how long until there is."""
        bucket = self._buckets.get(destination)
        if bucket is None:
            bucket = self._buckets[destination] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate
