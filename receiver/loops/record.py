"""Record a reported failure: once, however many times and however late it is reported.

One transaction: load the latest failure stored for the report's generation and kind
(`store.failures.latest_report`), let the engine judge whether the report is that
failure again (`engine.occurrence.judge`), then insert it, fill in what the stored one
lacked, or do nothing. The webhook and the sweeps both record through here.
"""

from __future__ import annotations

from receiver.engine.occurrence import Outcome, judge
from receiver.model import Failure
from receiver.store import failures as stored
from receiver.store.tx import Tx


def record_failure(tx: Tx, failure: Failure, received_at: float) -> bool:
    """True if `failure` is new (stored and to be counted), False if it was known."""
    report = stored.latest_report(tx, failure.generation_id, failure.kind)
    outcome = judge(report, failure)
    if outcome is Outcome.NEW:
        return stored.insert(tx, failure, received_at)
    if outcome is Outcome.FILL and report is not None:
        stored.fill(tx, report.seq, failure)
    return False
