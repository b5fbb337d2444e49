"""Notifications for tests: one incident's flushes, with fixed times (rendering is
deterministic, so snapshots are too)."""

from __future__ import annotations

from typing import Any

from receiver.model import ErrorCount, Notification, Reason

# 2025-01-15 14:03:07 UTC
T0 = 1_736_949_787.0

RATE_LIMIT = ErrorCount(
    fingerprint="fp-rate",
    message="Rate limit exceeded: 429 Too Many Requests (retry after 20s)",
    error_type="RateLimitError",
    count=31,
)
QUOTA = ErrorCount(
    fingerprint="fp-quota",
    message="Replicate quota exhausted for model black-forest-labs/flux-pro",
    error_type="RateLimitError",
    count=6,
)
UPSTREAM = ErrorCount(
    fingerprint="fp-upstream",
    message="Upstream returned 503 Service Unavailable",
    error_type="RateLimitError",
    count=12,
    new=True,
)

# Everything the episode saw, once no error is new any more.
_EPISODE_ERRORS = (
    RATE_LIMIT.model_copy(update={"count": 43}),
    UPSTREAM.model_copy(update={"new": False}),
    QUOTA,
)


def notification(**changes: Any) -> Notification:
    """The first flush of a rate_limit incident on flux-pro, with `changes` applied."""
    fields: dict[str, Any] = {
        "id": "n-0001",
        "receiver": "oncall",
        "group_key": "category=rate_limit,model_id=flux-pro",
        "episode": 1,
        "sequence": 1,
        "reason": Reason.FIRST,
        "labels": {"category": "rate_limit", "model_id": "flux-pro"},
        "window_failures": 37,
        "episode_failures": 37,
        "users_affected": 12,
        "first_seen": T0,
        "last_seen": T0 + 412,
        "created_at": T0 + 442,
        "top_errors": (RATE_LIMIT, QUOTA),
        "models": ("flux-pro",),
        "error_types": ("RateLimitError",),
        "sample_generation_ids": ("gen_01J9Z8", "gen_01J9Z9", "gen_01J9ZA"),
    }
    fields.update(changes)
    return Notification(**fields)


def later(sequence: int, reason: Reason, **changes: Any) -> Notification:
    """A later flush of the same episode (its `thread` is set by the caller)."""
    defaults: dict[str, Any] = {
        "id": f"n-{sequence:04d}",
        "sequence": sequence,
        "reason": reason,
    }
    if reason is Reason.NEW_FAILURES:
        defaults.update(window_failures=12, episode_failures=49, last_seen=T0 + 700)
        defaults.update(
            created_at=T0 + 742, top_errors=(RATE_LIMIT.model_copy(update={"count": 43}), QUOTA)
        )
    elif reason is Reason.NEW_ERROR:
        defaults.update(window_failures=12, episode_failures=61, last_seen=T0 + 1000)
        defaults.update(
            created_at=T0 + 1042,
            top_errors=(RATE_LIMIT.model_copy(update={"count": 43}), UPSTREAM, QUOTA),
        )
    elif reason is Reason.RESOLVED:
        defaults.update(window_failures=0, episode_failures=61, last_seen=T0 + 1000)
        defaults.update(created_at=T0 + 1000 + 34 * 60, top_errors=_EPISODE_ERRORS)
    elif reason is Reason.REPEAT:
        defaults.update(window_failures=0, episode_failures=61, last_seen=T0 + 1000)
        defaults.update(created_at=T0 + 4 * 3600 + 60, top_errors=_EPISODE_ERRORS)
    defaults.update(changes)
    return notification(**defaults)


def with_details(base: Notification) -> Notification:
    """`base` as sent with `include_prompts` and `include_user_emails` on."""
    prompts = {
        "fp-rate": "a lighthouse at dusk, oil painting",
        "fp-quota": "portrait of a red fox in the snow, 35mm, golden hour",
    }
    errors = tuple(
        error.model_copy(update={"sample_prompt": prompts.get(error.fingerprint)})
        for error in base.top_errors
    )
    return base.model_copy(
        update={
            "top_errors": errors,
            "sample_user_ids": ("u-1", "u-2"),
            "sample_user_emails": ("ada@example.com", "grace@example.com"),
        }
    )
