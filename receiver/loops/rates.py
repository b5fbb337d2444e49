"""Running the rate rules: load each rule's state, judge this sweep's counts with the
engine (`engine/rates.py`), save the state, and turn firing into ordinary failures.

A rule that fires records one failure of its category (`failure_rate`, `flatline`, …)
with the label `model_id`, through the store's idempotent path: grouping, routing,
silences and the notifiers treat it like any other. While it keeps firing, a changed
message (new counts) is recorded as another failure of the same alert, so the group's
next flush updates the Slack message in place. When it resolves, the alert — a member of
its group, as a stuck generation is — is cleared, and the group resolves at once.

The alert's member id is `<rule>:<scope>:<firing_since>`: each firing is its own episode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from receiver.config.settings import Settings
from receiver.engine.rates import (
    Counts,
    FlatlineRule,
    PathHealth,
    RateRule,
    RuleState,
    Signal,
    Verdict,
    advance,
    flatline_message,
    flatline_signal,
    path_signal,
    rate_message,
    rate_signal,
    rule_for,
)
from receiver.intake.fingerprint import fingerprint
from receiver.loops.record import record_failure
from receiver.metrics import Metrics
from receiver.model import Failure, FailureKind, Source
from receiver.rows import RuleStateRow
from receiver.store import rules as stored
from receiver.store import sweep as sweep_rows
from receiver.store.base import Store
from receiver.store.tx import Tx
from receiver.supabase.pgnet_queries import pgnet_present, read_deliveries
from receiver.supabase.rate_queries import ModelCounts, lag_for, read_counts
from receiver.supabase.sweep_queries import SourceReader, SourceTable
from receiver.timefmt import iso

log = logging.getLogger("failwatch.rates")

FAILURE_RATE = "failure_rate"
FLATLINE = "flatline"
WEBHOOK_PATH = "webhook_path"
HOOKS_CURSOR = "pgnet.hooks.answered"
QUEUE_CURSOR = "pgnet.queue"
WHOLE_TABLE = "*"
"""The flatline scope of all models together."""


@dataclass(frozen=True, slots=True)
class RateOptions:
    rate: RateRule = field(default_factory=RateRule)
    overrides: dict[str, RateRule] = field(default_factory=dict)
    flatline: FlatlineRule = field(default_factory=FlatlineRule)
    rate_enabled: bool = True
    flatline_enabled: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> RateOptions:
        return cls(
            rate=settings.failure_rate.default_rule(),
            overrides=settings.failure_rate.overrides(),
            flatline=settings.flatline.rule(),
            rate_enabled=settings.failure_rate.enabled,
            flatline_enabled=settings.flatline.enabled,
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One scope's signal this sweep, what its alert would say, and its hysteresis; the
    model and any further labels its alert carries."""

    scope: str
    signal: Signal
    message: str
    pending: int
    recover_after: int
    model_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    scope: str
    verdict: Verdict
    message: str | None


def rate_evaluations(counts: Sequence[ModelCounts], options: RateOptions) -> list[Evaluation]:
    """Each model's failure-rate signal (rows without a model id are no model)."""
    found = []
    for row in counts:
        if not row.model_id:
            continue
        rule = rule_for(options.rate, options.overrides, row.model_id)
        current = Counts(row.finished, row.failed)
        baseline = Counts(row.base_finished, row.base_failed)
        found.append(
            Evaluation(
                scope=row.model_id,
                signal=rate_signal(rule, current, baseline),
                message=rate_message(row.model_id, rule, current, baseline),
                pending=rule.pending,
                recover_after=rule.recover_after,
                model_id=row.model_id,
            )
        )
    return found


def flatline_evaluations(counts: Sequence[ModelCounts], options: RateOptions) -> list[Evaluation]:
    """Each model's flatline signal, and the whole table's."""
    rule = options.flatline
    scopes = [(row.model_id, row.flat_finished, row.flat_base_finished) for row in counts]
    scopes = [scope for scope in scopes if scope[0]]
    scopes.append(
        (
            WHOLE_TABLE,
            sum(row.flat_finished for row in counts),
            sum(row.flat_base_finished for row in counts),
        )
    )
    return [
        Evaluation(
            scope=scope,
            signal=flatline_signal(rule, finished, baseline),
            message=flatline_message(
                "all models" if scope == WHOLE_TABLE else scope, rule, baseline
            ),
            pending=rule.pending,
            recover_after=rule.recover_after,
            model_id=None if scope == WHOLE_TABLE else scope,
        )
        for scope, finished, baseline in scopes
    ]


def member_id(rule: str, scope: str, firing_since: float) -> str:
    return f"{rule}:{scope}:{firing_since!r}"


def rule_failure(rule: str, evaluation: Evaluation, state: RuleState, now: float) -> Failure:
    """The failure a firing rule records: one alert (member) per firing, one failure per
    message it shows."""
    assert state.firing_since is not None
    member = member_id(rule, evaluation.scope, state.firing_since)
    labels = {**evaluation.labels, "category": rule}
    if evaluation.model_id is not None:
        labels["model_id"] = evaluation.model_id
    return Failure(
        idempotency_key=f"{member}:{now!r}",
        generation_id=member,
        kind=FailureKind.CONDITION,
        source=Source.SWEEP,
        category=rule,
        # The rule and scope, not its numbers: every update of a firing is the same error.
        fingerprint=fingerprint(rule, evaluation.model_id, evaluation.scope),
        message=evaluation.message,
        error_type=None,
        model_id=evaluation.model_id,
        user_id=None,
        session_id=None,
        occurred_at=iso(now),
        labels=labels,
    )


class RuleRunner:
    """Runs one kind of rule over its evaluations against the store's state."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        on_new_failure: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._on_new_failure = on_new_failure

    async def run(
        self,
        rule: str,
        evaluations: Sequence[Evaluation],
        *,
        now: float,
        unseen: Signal = Signal.UNKNOWN,
    ) -> list[Outcome]:
        """Judge `evaluations` and record what follows in one transaction: the alerts, the
        rules' state and the cleared members commit together, so a crash cannot leave an
        alert recorded under a firing the state does not remember (whose member would then
        never be cleared). A scope with state but no evaluation gets `unseen`."""

        def judge(tx: Tx) -> tuple[list[Outcome], int]:
            rows = stored.load_rule_states(tx, rule)
            judged = {evaluation.scope for evaluation in evaluations}
            left = [
                Evaluation(scope, unseen, row.message or "", 1, 1)
                for scope, row in rows.items()
                if scope not in judged
            ]
            outcomes: list[Outcome] = []
            recorded = 0  # new failures stored for the rule's alerts
            saved: list[RuleStateRow] = []
            for evaluation in [*evaluations, *left]:
                row = rows.get(evaluation.scope)
                before = _state(row)
                after, verdict = advance(
                    before,
                    evaluation.signal,
                    pending=evaluation.pending,
                    recover_after=evaluation.recover_after,
                    now=now,
                )
                message = row.message if row is not None else None
                # Updates while it is still bad; a recovering alert keeps its last bad
                # counts until it resolves (a "2%" update would read as a new alarm).
                if verdict is Verdict.FIRE or (
                    verdict is Verdict.KEEP
                    and evaluation.signal in (Signal.BREACH, Signal.ELEVATED)
                    and evaluation.message != message
                ):
                    message = evaluation.message
                    failure = rule_failure(rule, evaluation, after, now)
                    if record_failure(tx, failure, now):
                        recorded += 1
                if verdict is Verdict.RESOLVE:
                    assert before.firing_since is not None
                    member = member_id(rule, evaluation.scope, before.firing_since)
                    sweep_rows.clear_member(tx, member, now=now)
                    message = None
                if row is not None or after != RuleState():
                    saved.append(_row(rule, evaluation.scope, after, message, now))
                if verdict is not Verdict.QUIET:
                    outcomes.append(Outcome(evaluation.scope, verdict, message))
            stored.save_rule_states(tx, saved)
            return outcomes, recorded

        outcomes, recorded = await self._store.write(judge)
        if recorded:
            self._metrics.failures.labels(rule).inc(recorded)
        changed = recorded or any(o.verdict is Verdict.RESOLVE for o in outcomes)
        if changed and self._on_new_failure is not None:
            self._on_new_failure()
        for outcome in outcomes:
            if outcome.verdict in (Verdict.FIRE, Verdict.RESOLVE):
                log.info(
                    "rule",
                    extra={"rule": rule, "scope": outcome.scope, "verdict": outcome.verdict.value},
                )
        return outcomes


def _state(row: RuleStateRow | None) -> RuleState:
    if row is None:
        return RuleState()
    return RuleState(pending=row.pending, calm=row.calm, firing_since=row.firing_since)


def _row(rule: str, scope: str, state: RuleState, message: str | None, now: float) -> RuleStateRow:
    return RuleStateRow(
        rule=rule,
        scope=scope,
        pending=state.pending,
        calm=state.calm,
        firing_since=state.firing_since,
        message=message if state.firing else None,
        evaluated_at=now,
    )


class SourceRates:
    """The rate and flatline rules on the source database: one aggregate query, then each
    rule's evaluations. Run by the sweeper, on its connection, once per sweep."""

    def __init__(self, runner: RuleRunner, options: RateOptions, *, stuck_after: float) -> None:
        self._runner = runner
        self._options = options
        self._stuck_after = stuck_after

    @property
    def enabled(self) -> bool:
        return self._options.rate_enabled or self._options.flatline_enabled

    async def evaluate(
        self, reader: SourceReader, table: SourceTable, *, now: float
    ) -> list[Outcome]:
        options = self._options
        counts = await read_counts(
            reader,
            table,
            rate_window=options.rate.window,
            flat_window=options.flatline.window,
            lag=lag_for(table, self._stuck_after),
        )
        outcomes = []
        if options.rate_enabled:
            outcomes += await self._runner.run(
                FAILURE_RATE, rate_evaluations(counts, options), now=now
            )
        if options.flatline_enabled:
            outcomes += await self._runner.run(
                FLATLINE, flatline_evaluations(counts, options), now=now
            )
        return outcomes


class WebhookPath:
    """The health of the way from Supabase to failwatch, from pg_net's own records: counts
    each delivery once (`failwatch_pgnet_deliveries_total{result}`), and runs the
    `webhook_path` rule on it and on what the missed-failure sweep found."""

    def __init__(
        self,
        runner: RuleRunner,
        store: Store,
        metrics: Metrics,
        *,
        pending: int = 2,
        recover_after: int = 3,
    ) -> None:
        self._runner = runner
        self._store = store
        self._metrics = metrics
        # Failed deliveries in `pending` sweeps in a row: one bad minute is not an outage.
        self._pending = pending
        self._recover_after = recover_after
        self._present: bool | None = None

    async def read(self, reader: SourceReader) -> PathHealth | None:
        """pg_net's deliveries since the last sweep; None without pg_net or hooks."""
        if self._present is None:
            self._present = await pgnet_present(reader)
        if not self._present:
            return None
        after = await self._store.read(lambda tx: sweep_rows.get_cursor(tx, HOOKS_CURSOR))
        previous_queue = await self._store.read(lambda tx: sweep_rows.get_cursor(tx, QUEUE_CURSOR))
        seen = await read_deliveries(reader, after=int(after or 0))
        for result, count in (
            ("ok", seen.ok),
            ("failed", seen.failed),
            ("timeout", seen.timeouts),
            ("error", seen.errors),
        ):
            if count:
                self._metrics.pgnet_deliveries.labels(result).inc(count)

        def save(tx: Tx) -> None:
            if seen.answered_up_to is not None:
                sweep_rows.set_cursor(tx, HOOKS_CURSOR, float(seen.answered_up_to))
            sweep_rows.set_cursor(tx, QUEUE_CURSOR, float(seen.queue))

        await self._store.write(save)
        if seen.failed or seen.errors:
            log.warning(
                "pg_net deliveries failed",
                extra={"failed": seen.failed, "errors": seen.errors, "ok": seen.ok},
            )
        return PathHealth(
            ok=seen.ok,
            failed=seen.failed,
            errors=seen.errors,
            timeouts=seen.timeouts,
            queue=seen.queue,
            previous_queue=None if previous_queue is None else int(previous_queue),
            worker_running=seen.worker_running,
        )

    async def judge(self, health: PathHealth, *, missed: int, now: float) -> list[Outcome]:
        signal, message = path_signal(replace(health, missed=missed))
        evaluation = Evaluation(WHOLE_TABLE, signal, message, self._pending, self._recover_after)
        return await self._runner.run(WEBHOOK_PATH, [evaluation], now=now)
