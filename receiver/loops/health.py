"""Whether a background loop is making progress, for `/readyz`.

A loop that raises on every pass (a corrupt page in the state file, a bug) or that never
comes back from one (a lock held forever) accepts webhooks that nobody will ever be told
about. Each loop reports every completed pass and every failed one here; a loop whose
last completed pass is older than `stall_after` is stalled, and readiness says so, with
the last error seen. Times are monotonic seconds, passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class LoopHealth:
    name: str
    stall_after: float
    started_at: float
    last_success: float | None = None
    failures_in_a_row: int = 0
    last_error: str | None = field(default=None, repr=False)

    def succeeded(self, now: float) -> None:
        self.last_success = now
        self.failures_in_a_row = 0
        self.last_error = None

    def failed(self, error: BaseException) -> None:
        self.failures_in_a_row += 1
        # The exception's type and first line: enough to act on, and never a payload.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        self.last_error = f"{type(error).__name__}: {first_line[:200]}".rstrip(": ")

    def problem(self, now: float) -> str | None:
        """Why this loop is not making progress, or None while it is."""
        since = self.last_success if self.last_success is not None else self.started_at
        quiet = now - since
        if quiet <= self.stall_after:
            return None
        sentence = f"{self.name}: no pass completed in the last {quiet:.0f} s"
        if self.last_error is not None:
            sentence += f" ({self.failures_in_a_row} failed in a row; last: {self.last_error})"
        return sentence


def report_failure(
    health: LoopHealth, error: BaseException, *, log: logging.Logger, count: Callable[[], None]
) -> None:
    """Record a failed pass: counted every time, logged on the 1st, 2nd, 4th, 8th … in a
    row, so that a loop failing every tick is visible without flooding the log."""
    health.failed(error)
    count()
    streak = health.failures_in_a_row
    if streak & (streak - 1) == 0:
        log.error(
            f"{health.name} pass failed",
            extra={"error": health.last_error, "failures_in_a_row": streak},
        )
