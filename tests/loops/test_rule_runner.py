"""The rule runner against a real store (SQLite and PostgreSQL): a firing rule's alert
stays open for as long as the rule fires, and what a run records commits whole or not
at all."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from receiver.engine.rates import Signal, Verdict
from receiver.errors import StoreUnavailable
from receiver.loops.rates import Evaluation, RuleRunner
from receiver.model import Reason
from receiver.store import rules as stored
from tests.loops.harness import engine

pytestmark = pytest.mark.anyio

MESSAGE = (
    "all models: generations stopped finishing — none in the last 15 min "
    "(same window yesterday: 60)"
)


def flatline(signal: Signal) -> list[Evaluation]:
    return [Evaluation("*", signal, MESSAGE, pending=1, recover_after=1)]


async def test_an_unchanged_firing_alert_is_not_resolved_by_quiet(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, group_wait=0) as e:
        runner = RuleRunner(e.store, e.metrics)
        [fired] = await runner.run("flatline", flatline(Signal.BREACH), now=e.clock())
        assert fired.verdict is Verdict.FIRE
        await e.settle()
        # Two hours of the same message: nothing new is recorded, yet it is still firing.
        for _ in range(24):
            e.clock.advance(300)
            [kept] = await runner.run("flatline", flatline(Signal.BREACH), now=e.clock())
            assert kept.verdict is Verdict.KEEP
            await e.settle()
        assert await e.store.count_failures() == 1
        assert Reason.RESOLVED not in [n.reason for n in e.recorder.sent]
        [resolved] = await runner.run("flatline", flatline(Signal.CALM), now=e.clock())
        assert resolved.verdict is Verdict.RESOLVE
        await e.settle()
        assert e.recorder.sent[-1].reason is Reason.RESOLVED


async def test_an_alert_and_the_state_that_remembers_it_commit_together(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        if state_url is None:  # SQLite
            crash = (
                "CREATE TRIGGER crash BEFORE INSERT ON rule_state "
                "BEGIN SELECT RAISE(ABORT, 'crash while saving the state'); END"
            )
        else:
            await e.store.write(
                lambda tx: tx.execute(
                    "CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'crash while saving the state'; END $$"
                )
            )
            crash = "CREATE TRIGGER crash BEFORE INSERT ON rule_state EXECUTE FUNCTION crash()"
        await e.store.write(lambda tx: tx.execute(crash))
        runner = RuleRunner(e.store, e.metrics)
        # SQLite's store reports any failed commit as unavailable; PostgreSQL's passes the
        # database's error on.
        with pytest.raises((StoreUnavailable, psycopg.Error), match="crash while saving"):
            await runner.run("flatline", flatline(Signal.BREACH), now=e.clock())
        # The alert recorded before the state was saved went with it: no member that the
        # rule's state does not name, and so none that could never be cleared.
        assert await e.store.count_failures() == 0
        assert await e.store.read(lambda tx: stored.load_rule_states(tx, "flatline")) == {}
