"""Occurrence: whether a report of a failed generation is a failure already stored.

One failure can be reported more than once, with more detail each time: an UPDATE sets
`status='failed'` and a second one adds `parameters.error`; a webhook is followed by the
sweep reading the finished row. Those reports carry different idempotency keys (the key
holds the error's timestamp, else a hash of its message), so the key alone would store
one failure twice. Reports of the same generation and kind are one failure unless both
carry an error timestamp and the timestamps differ (the generation failed again); the
later report fills in what the stored one lacked and is not counted again.
"""

from __future__ import annotations

from enum import StrEnum

from receiver.model import Failure
from receiver.rows import StoredReport


class Outcome(StrEnum):
    NEW = "new"  # a failure not stored yet: insert it
    DUPLICATE = "duplicate"  # the same failure, nothing to add
    FILL = "fill"  # the same failure, and this report has details the stored one lacks


def judge(stored: StoredReport | None, report: Failure) -> Outcome:
    """What to do with `report`, given the latest stored failure of its generation."""
    if stored is None:
        return Outcome.NEW
    if stored.idempotency_key != report.idempotency_key:
        if stored.occurred_at and report.occurred_at and stored.occurred_at != report.occurred_at:
            return Outcome.NEW
        if stored.message and report.message and stored.message != report.message:
            # Two different errors and no timestamps to tell them apart: a second failure
            # rather than one message lost.
            return Outcome.NEW
    # The same key is the same failure too (one error time), and may still bring what
    # the stored report lacked: a message written after the time.
    adds = (
        (report.message and not stored.message)
        or (report.error_type and not stored.error_type)
        or (report.occurred_at and not stored.occurred_at)
    )
    return Outcome.FILL if adds else Outcome.DUPLICATE
