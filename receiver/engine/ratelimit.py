"""Rate limit per destination: a token bucket, as arithmetic on its stored state.

A destination (a Slack channel, an SMTP server) gets `rate` calls a second on average
and up to `burst` at once. Every call a delivery makes takes a token — a Slack update
in bot mode is two calls (`chat.update` and the thread reply), so it takes two, all at
once before the first call (`api_calls` says how many). The bucket lives in the store
so that every worker of every replica shares it; this module only says what a take
does to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from receiver.model import Reason

# The most calls one delivery makes: a bucket must hold at least this many tokens.
MOST_CALLS = 2


@dataclass(frozen=True, slots=True)
class Take:
    tokens: float  # the bucket's tokens after this take (store them, with `now`)
    wait: float  # 0 if a token was taken; otherwise seconds until one is free


def api_calls(reason: Reason, *, updates_in_place: bool, threaded: bool) -> int:
    """How many API calls delivering a notification makes, so how many tokens it takes.

    An integration that updates in place (Slack in bot mode) posts an incident's first
    message and each repeat (one call), and edits the message of a later flush then
    replies in its thread (two: if the message is gone, the failed edit and a fresh post
    are two as well); an action on an incident it never posted says nothing. Every other
    integration sends one message per notification."""
    if not updates_in_place:
        return 1
    if not threaded:
        return 0 if reason is Reason.ACTION else 1
    if reason in (Reason.FIRST, Reason.REPEAT):
        return 1
    return MOST_CALLS


def take_tokens(
    tokens: float, updated_at: float, *, now: float, rate: float, burst: int, calls: int
) -> Take:
    """Refill the bucket for the time since `updated_at`, then take a token for each of
    `calls` if there are that many (`calls` is at most the burst: see `MOST_CALLS`)."""
    refilled = tokens_at(tokens, updated_at, now=now, rate=rate, burst=burst)
    if refilled >= calls:
        return Take(tokens=refilled - calls, wait=0.0)
    return Take(tokens=refilled, wait=(calls - refilled) / rate)


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
    mean rescheduling it, a commit per row per pass. A row is counted as one call here
    (its thread is only known once claimed); the take before sending is exact."""
    left = dict(allowance)
    picked: list[int] = []
    for row_id, destination in candidates:
        if len(picked) == limit:
            break
        if left.get(destination, default) > 0:
            left[destination] = left.get(destination, default) - 1
            picked.append(row_id)
    return picked
