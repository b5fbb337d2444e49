"""The failure-spike rule on failwatch's own store, with no source database: the loop
reads the one aggregate, the engine judges it, the alert goes through grouping and the
notifier like any failure. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from receiver.engine.rates import DAY, SpikeRule, Verdict
from receiver.loops.rates import Outcome, RuleRunner
from receiver.loops.spikes import SpikeWatch
from receiver.model import Notification, Reason
from receiver.store import rules as stored
from tests.loops.harness import Engine, engine

pytestmark = pytest.mark.anyio

HOUR = 3600.0
RULE = SpikeRule(window=600.0, min_failed=10, factor=3.0, pending=2, recover_after=3)


@dataclass
class SpikeRig:
    e: Engine
    watch: SpikeWatch

    async def evaluate(self, *, after: float = 60.0) -> list[Outcome]:
        self.e.clock.advance(after)
        outcomes = await self.watch.pass_once()
        assert outcomes is not None  # this replica holds the lease
        await self.e.settle()
        return outcomes

    def sent(self) -> list[Notification]:
        return [n for n in self.e.recorder.sent if n.labels.get("category") == "failure_spike"]

    async def quiet_day(self) -> None:
        """A day and an hour of failwatch watching: one flux-pro failure an hour."""
        for _ in range(25):
            await self.e.fail(model="flux-pro", error="Rate limit exceeded")
            self.e.clock.advance(HOUR)

    async def burst(self, count: int, *, model: str = "flux-pro") -> None:
        for _ in range(count):
            await self.e.fail(model=model, error="Rate limit exceeded")


@asynccontextmanager
async def spike_rig(tmp_path: Path, state_url: str | None) -> AsyncIterator[SpikeRig]:
    async with engine(tmp_path, state_url=state_url, group_wait=0) as e:
        watch = SpikeWatch(
            runner=RuleRunner(e.store, e.metrics),
            store=e.store,
            rule=RULE,
            interval=60.0,
            metrics=e.metrics,
            clock=e.clock,
        )
        yield SpikeRig(e, watch)


async def test_a_burst_after_a_quiet_day_fires_once_updates_and_resolves(
    tmp_path: Path, state_url: str | None
) -> None:
    async with spike_rig(tmp_path, state_url) as rig:
        await rig.quiet_day()
        assert await rig.evaluate() == []  # one failure an hour is normal
        await rig.burst(12)
        [pending] = await rig.evaluate()
        assert pending.verdict is Verdict.PENDING
        [fired] = await rig.evaluate()
        assert fired.verdict is Verdict.FIRE
        [first] = rig.sent()
        assert first.reason is Reason.FIRST
        assert first.labels == {"category": "failure_spike", "model_id": "flux-pro"}
        assert first.top_errors[0].message == (
            "rate_limit on flux-pro: 12 failures in the last 10 min "
            "(same window yesterday: 1; last 24 h: 24)"
        )

        await rig.burst(8)  # worse: the same alert shows the new count
        [kept] = await rig.evaluate(after=300.0)  # group_interval (5 min) after the first
        assert kept.verdict is Verdict.KEEP
        update = rig.sent()[-1]
        assert (update.reason, update.episode) == (Reason.NEW_FAILURES, first.episode)
        assert update.top_errors[0].message.startswith("rate_limit on flux-pro: 20 failures")

        # The window passes without failures: calm 3 times in a row, then resolved.
        verdicts = [(await rig.evaluate(after=t))[0].verdict for t in (600.0, 60.0, 60.0)]
        assert verdicts == [Verdict.KEEP, Verdict.KEEP, Verdict.RESOLVE]
        assert [n.reason for n in rig.sent()] == [
            Reason.FIRST,
            Reason.NEW_FAILURES,
            Reason.RESOLVED,
        ]
        assert (
            rig.e.metrics.registry.get_sample_value(
                "failwatch_failures_total", {"category": "failure_spike"}
            )
            == 2
        )


async def test_no_decision_before_a_day_of_history(tmp_path: Path, state_url: str | None) -> None:
    async with spike_rig(tmp_path, state_url) as rig:
        await rig.burst(50)  # a new deployment's first hour: nothing to compare with
        for _ in range(3):
            assert await rig.evaluate() == []
        assert rig.sent() == []


async def test_a_few_failures_after_a_silent_day_do_not_fire(
    tmp_path: Path, state_url: str | None
) -> None:
    async with spike_rig(tmp_path, state_url) as rig:
        await rig.quiet_day()
        await rig.burst(6, model="sdxl")  # sdxl never failed before; 6 < min_failed
        for _ in range(3):
            await rig.evaluate()
        assert rig.sent() == []


async def test_the_rules_own_alerts_are_not_counted(tmp_path: Path, state_url: str | None) -> None:
    async with spike_rig(tmp_path, state_url) as rig:
        await rig.quiet_day()
        await rig.burst(12)
        await rig.evaluate()
        await rig.evaluate()
        counts = await rig.e.store.read(
            lambda tx: stored.failure_counts(tx, now=rig.e.clock(), window=RULE.window, day=DAY)
        )
        assert {(row.category, row.model_id) for row in counts} == {("rate_limit", "flux-pro")}
