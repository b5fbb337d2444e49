from __future__ import annotations

from dataclasses import replace

import pytest

from receiver.engine.occurrence import Outcome, judge
from receiver.model import Failure, FailureKind, Source
from receiver.rows import StoredReport

REPORT = Failure(
    idempotency_key="g1:failed:mabc",
    generation_id="g1",
    kind=FailureKind.FAILED,
    source=Source.WEBHOOK,
    category="rate_limit",
    fingerprint="f" * 16,
    message="Rate limit exceeded",
    error_type="RateLimitError",
    model_id="flux-pro",
    user_id="u1",
    session_id=None,
    occurred_at=None,
)
STORED = StoredReport(
    seq=7,
    idempotency_key="g1:failed:mabc",
    message="Rate limit exceeded",
    error_type="RateLimitError",
    occurred_at=None,
)


@pytest.mark.parametrize(
    ("stored", "report", "outcome"),
    [
        # Nothing stored for the generation: a new failure.
        pytest.param(None, REPORT, Outcome.NEW, id="first"),
        # The same key: the same report again (a retried webhook, the sweep).
        pytest.param(STORED, REPORT, Outcome.DUPLICATE, id="same-key"),
        # The same key (one error time) first without the message, then with it: the
        # same failure, and the message is filled in rather than lost.
        pytest.param(
            replace(STORED, message="", error_type=None, occurred_at="2024-05-01T12:00:31Z"),
            replace(REPORT, idempotency_key=STORED.idempotency_key,
                    occurred_at="2024-05-01T12:00:31Z"),
            Outcome.FILL,
            id="same-key-message-arrives-late",
        ),
        # The same key with another message (rewritten under the same error time): still
        # one failure, never a second row under one key.
        pytest.param(
            replace(STORED, occurred_at="2024-05-01T12:00:31Z"),
            replace(REPORT, message="CUDA out of memory", occurred_at="2024-05-01T12:00:31Z"),
            Outcome.DUPLICATE,
            id="same-key-other-message",
        ),
        # Stored without an error (the UPDATE that set status='failed'), reported again
        # with it (the UPDATE that added parameters.error, or the sweep): fill it in.
        pytest.param(
            replace(STORED, idempotency_key="g1:failed:mempty", message="", error_type=None),
            REPORT,
            Outcome.FILL,
            id="error-arrives-late",
        ),
        # The other order: stored with the error, reported again without it: nothing new.
        pytest.param(
            STORED,
            replace(REPORT, idempotency_key="g1:failed:mempty", message="", error_type=None),
            Outcome.DUPLICATE,
            id="error-known-already",
        ),
        # The same message, now with the time of the error: fill in the time.
        pytest.param(
            STORED,
            replace(REPORT, idempotency_key="g1:failed:2024-05-01T12:00:31Z",
                    occurred_at="2024-05-01T12:00:31Z"),
            Outcome.FILL,
            id="timestamp-arrives-late",
        ),
        # ... and the type, when only the type is new.
        pytest.param(
            replace(STORED, error_type=None),
            replace(REPORT, idempotency_key="g1:failed:other"),
            Outcome.FILL,
            id="type-arrives-late",
        ),
        # Both have an error time and they differ: the generation failed again.
        pytest.param(
            replace(STORED, occurred_at="2024-05-01T12:00:31Z"),
            replace(REPORT, idempotency_key="g1:failed:2024-05-01T12:09:00Z",
                    occurred_at="2024-05-01T12:09:00Z"),
            Outcome.NEW,
            id="failed-again",
        ),
        # Two different errors and nothing to tell them apart by time: kept apart rather
        # than one of them lost.
        pytest.param(
            STORED,
            replace(REPORT, idempotency_key="g1:failed:mdef", message="CUDA out of memory"),
            Outcome.NEW,
            id="other-error",
        ),
        # The same error, another key, nothing to add (the sweep saw a row the webhook
        # reported, keyed otherwise): the same failure.
        pytest.param(
            STORED,
            replace(REPORT, idempotency_key="g1:failed:other"),
            Outcome.DUPLICATE,
            id="nothing-to-add",
        ),
    ],
)  # fmt: skip
def test_judge(stored: StoredReport | None, report: Failure, outcome: Outcome) -> None:
    assert judge(stored, report) is outcome
