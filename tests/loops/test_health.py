"""LoopHealth: when a background loop counts as stalled, and what readiness says then."""

from __future__ import annotations

import pytest

from receiver.loops.health import LoopHealth


def _health() -> LoopHealth:
    return LoopHealth("dispatcher", stall_after=60.0, started_at=1000.0)


@pytest.mark.parametrize(
    ("events", "now", "problem"),
    [
        # Just started, no pass yet: given stall_after to complete its first one.
        ([], 1060.0, None),
        ([], 1061.0, "dispatcher: no pass completed in the last 61 s"),
        # A recent pass keeps it healthy, however old the process.
        ([("ok", 5000.0)], 5059.0, None),
        # Failing on every pass (a corrupt page): stalled, with the last error.
        (
            [
                ("ok", 1010.0),
                ("fail", "DatabaseError: database disk image is malformed"),
                ("fail", "DatabaseError: database disk image is malformed"),
            ],
            1100.0,
            "dispatcher: no pass completed in the last 90 s (2 failed in a row; "
            "last: DatabaseError: database disk image is malformed)",
        ),
        # A pass that never returns (no event at all after the last success): stalled.
        ([("ok", 1010.0)], 1500.0, "dispatcher: no pass completed in the last 490 s"),
        # A success after failures clears them.
        ([("fail", "OSError: disk full"), ("ok", 1200.0)], 1210.0, None),
    ],
)
def test_problem(events: list[tuple[str, object]], now: float, problem: str | None) -> None:
    health = _health()
    for kind, value in events:
        if kind == "ok":
            assert isinstance(value, float)
            health.succeeded(value)
        else:
            name, _, message = str(value).partition(": ")
            health.failed(type(name, (Exception,), {})(message))
    assert health.problem(now) == problem


def test_an_error_is_named_by_its_type_and_first_line_only() -> None:
    health = _health()
    health.failed(RuntimeError("first line\nsecond line with a payload"))
    assert health.last_error == "RuntimeError: first line"
    health.failed(RuntimeError())
    assert health.last_error == "RuntimeError"
