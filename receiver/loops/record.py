"""Record a reported failure: once, however many times and however late it is reported.

One transaction. Most reports are the first of their generation and are stored by one
conditional insert. Otherwise the latest failure stored for the report's generation and
kind is loaded (`store.failures.latest_report`), the engine judges whether the report is
that failure again (`engine.occurrence.judge`), and the report is inserted, fills in what
the stored one lacked, or changes nothing. The webhook and the sweeps record through here.
"""

from __future__ import annotations

from receiver.engine.occurrence import Outcome, judge
from receiver.model import Failure
from receiver.store import failures as stored
from receiver.store.tx import Tx


def record_failure(tx: Tx, failure: Failure, received_at: float) -> bool:
    """True if `failure` is new (stored and to be counted), False if it was known."""
    if stored.insert_first_report(tx, failure, received_at):
        return True
    report = stored.latest_report(tx, failure.generation_id, failure.kind)
    outcome = judge(report, failure)
    if outcome is Outcome.NEW:
        return stored.insert(tx, failure, received_at)
    if outcome is Outcome.FILL and report is not None:
        stored.fill(tx, report.seq, failure)
    return False
