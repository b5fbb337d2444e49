"""Ignored webhooks: counted by reason, summed up in one line a minute."""

from __future__ import annotations

import asyncio
import logging

import pytest

from receiver.web.webhook import IgnoredTally, ignored_summary, log_ignored_summaries

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("counts", "line"),
    [
        # The example: most frequent reason first, thousands separated.
        (
            {"other_table": 4, "not_failed": 12_300},
            "ignored 12,304 webhooks: not_failed 12,300, other_table 4",
        ),
        # One call: singular.
        ({"delete": 1}, "ignored 1 webhook: delete 1"),
        # Equal counts: by reason name, so the line is the same every time.
        ({"delete": 2, "already_failed": 2}, "ignored 4 webhooks: already_failed 2, delete 2"),
    ],
)
def test_the_summary_line(counts: dict[str, int], line: str) -> None:
    assert ignored_summary(counts) == line


def test_the_tally_starts_again_after_each_take() -> None:
    tally = IgnoredTally()
    for reason in ("not_failed", "not_failed", "delete"):
        tally.add(reason)
    assert tally.take() == {"not_failed": 2, "delete": 1}
    assert tally.take() == {}


async def test_the_loop_writes_what_was_ignored_and_the_rest_at_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="failwatch.webhook")
    tally, stop = IgnoredTally(), asyncio.Event()
    tally.add("not_failed")
    # A period far longer than the test: only `stop` ends the wait.
    task = asyncio.create_task(log_ignored_summaries(tally, stop, seconds=3600))
    await asyncio.sleep(0)
    tally.add("other_table")
    stop.set()
    await task
    lines = [r.getMessage() for r in caplog.records if r.name == "failwatch.webhook"]
    assert lines == ["ignored 2 webhooks: not_failed 1, other_table 1"]


async def test_nothing_ignored_writes_no_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="failwatch.webhook")
    stop = asyncio.Event()
    stop.set()
    await log_ignored_summaries(IgnoredTally(), stop, seconds=3600)
    assert not [r for r in caplog.records if r.name == "failwatch.webhook"]
