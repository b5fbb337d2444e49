"""Rate rules: is a model failing far more than usual, or has it stopped finishing?

50 failures mean nothing when 100,000 generations finished and everything when 60 did, so
these rules judge *rates* and *change against normal*, each evaluation (one per sweep) as
a pure function of counts the loops read:

- **failure rate** (`failure_rate`): of the generations that finished in the last `window`,
  the share that failed is at or above `threshold`, or is a **spike** — at least
  `spike_factor` times the rate of the same window a day earlier *and* `spike_points` above
  it. Below `min_finished` finished or `min_failed` failed there is no decision: a model
  that ran 6 generations and failed 3 is not an outage.
- **flatline** (`flatline`): no generation finished in the last `window` where the same
  window a day earlier had at least `min_baseline`.
- **failure spike** (`failure_spike`): failures of one category and model that failwatch
  itself recorded in the last `window`, against what is usual for them — the larger of the
  same window a day earlier and the trailing 24 h's average window. It needs no source
  database, so a deployment with only the webhook has it.
- **webhook path** (`webhook_path`): pg_net's deliveries to failwatch failed, its queue
  grows, or failures turn up only through the sweep.

Each evaluation gives a `Signal`; `advance` turns the run of signals into firing and
resolving with hysteresis, as Prometheus's `for:` and Grafana's recovery do: `pending`
breaching evaluations in a row before firing, `recover_after` calm ones in a row before
resolving. An evaluation that can decide nothing (too little traffic) neither counts
towards firing nor towards resolving, so a rule cannot flap on noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum


class Signal(StrEnum):
    BREACH = "breach"  # the condition holds
    ELEVATED = "elevated"  # not bad enough to fire, not calm enough to resolve
    CALM = "calm"  # clearly back to normal
    UNKNOWN = "unknown"  # too little traffic to say


class Verdict(StrEnum):
    QUIET = "quiet"  # not firing, nothing pending
    PENDING = "pending"  # breaching, not yet for long enough
    FIRE = "fire"  # starts firing now
    KEEP = "keep"  # still firing
    RESOLVE = "resolve"  # stops firing now


@dataclass(frozen=True, slots=True)
class RateRule:
    """The `failure_rate:` settings for one model (defaults, or that model's overrides)."""

    window: float = 600.0
    min_finished: int = 20
    min_failed: int = 5
    threshold: float = 0.25
    spike_factor: float = 3.0
    spike_points: float = 0.10
    pending: int = 2
    recover_after: int = 5


@dataclass(frozen=True, slots=True)
class FlatlineRule:
    """The `flatline:` settings for one model (or the whole table)."""

    window: float = 900.0
    min_baseline: int = 50
    pending: int = 2
    recover_after: int = 2


@dataclass(frozen=True, slots=True)
class SpikeRule:
    """The `failure_spike:` settings."""

    window: float = 600.0
    min_failed: int = 10
    factor: float = 3.0
    pending: int = 2
    recover_after: int = 3


@dataclass(frozen=True, slots=True)
class Counts:
    """Generations that finished (succeeded or failed) in a window, and those that failed."""

    finished: int
    failed: int

    @property
    def rate(self) -> float:
        return self.failed / self.finished if self.finished else 0.0


@dataclass(frozen=True, slots=True)
class RuleState:
    """One rule instance's run of evaluations, as stored between sweeps."""

    pending: int = 0  # breaching evaluations in a row while not firing
    calm: int = 0  # calm evaluations in a row while firing
    firing_since: float | None = None  # when it fired; names this firing episode

    @property
    def firing(self) -> bool:
        return self.firing_since is not None


def rule_for(default: RateRule, overrides: Mapping[str, RateRule], model_id: str) -> RateRule:
    """The rule a model is judged by: its own override, else the default."""
    return overrides.get(model_id, default)


def is_spike(rule: RateRule, rate: float, baseline: float) -> bool:
    """Many times the usual rate *and* clearly above it: 3 times 0.1% is still noise."""
    return rate >= rule.spike_factor * baseline and rate >= baseline + rule.spike_points


def rate_signal(rule: RateRule, current: Counts, baseline: Counts | None) -> Signal:
    """Judge one model's window against the threshold and against the day before.

    The baseline counts only when it had enough traffic to be a rate at all."""
    if current.finished < rule.min_finished:
        return Signal.UNKNOWN
    rate = current.rate
    usable = baseline is not None and baseline.finished >= rule.min_finished
    spiking = usable and baseline is not None and is_spike(rule, rate, baseline.rate)
    if current.failed >= rule.min_failed and (rate >= rule.threshold or spiking):
        return Signal.BREACH
    if rate < rule.threshold / 2 and not spiking:
        return Signal.CALM
    return Signal.ELEVATED


def flatline_signal(rule: FlatlineRule, finished: int, baseline_finished: int) -> Signal:
    """Nothing finished where a day earlier plenty did. A quiet baseline says nothing."""
    if baseline_finished < rule.min_baseline:
        return Signal.UNKNOWN
    return Signal.BREACH if finished == 0 else Signal.CALM


DAY = 86400.0


@dataclass(frozen=True, slots=True)
class FailureCounts:
    """Failures of one category and model failwatch recorded: in the current window, in the
    same window a day earlier, and in the 24 h before the current window."""

    current: int
    day_before: int
    trailing_day: int


def usual_failures(rule: SpikeRule, counts: FailureCounts) -> float:
    """What one window usually holds: the larger of the same window a day earlier and the
    trailing day's average window, so neither a quiet yesterday nor a bad night alone
    sets the bar."""
    return max(float(counts.day_before), counts.trailing_day * rule.window / DAY)


def spike_bar(rule: SpikeRule, usual: float) -> float:
    """The failures a window needs to be a spike: `factor` times the usual *and*
    `min_failed` more than it, and never fewer than `min_failed` (so one failure after a
    silent day, or 4 after 1, is not an outage)."""
    return max(float(rule.min_failed), rule.factor * usual, usual + rule.min_failed)


def spike_signal(rule: SpikeRule, counts: FailureCounts, *, history: bool) -> Signal:
    """Judge one category and model's window against its usual. Without `history` (failwatch
    has not been watching for a day and a window) there is no usual to compare with; below
    half the bar is calm — no failures at all included, whatever the traffic."""
    if not history:
        return Signal.UNKNOWN
    bar = spike_bar(rule, usual_failures(rule, counts))
    if counts.current >= bar:
        return Signal.BREACH
    if counts.current < bar / 2:
        return Signal.CALM
    return Signal.ELEVATED


def advance(
    state: RuleState, signal: Signal, *, pending: int, recover_after: int, now: float
) -> tuple[RuleState, Verdict]:
    """The next state and what it means: fire after `pending` breaches in a row, resolve
    after `recover_after` calm evaluations in a row; anything else breaks a run."""
    if not state.firing:
        if signal is not Signal.BREACH:
            return RuleState(), Verdict.QUIET
        run = state.pending + 1
        if run >= pending:
            return RuleState(firing_since=now), Verdict.FIRE
        return RuleState(pending=run), Verdict.PENDING
    if signal is Signal.UNKNOWN:  # no traffic, no news: neither recovery nor relapse
        return state, Verdict.KEEP
    if signal is not Signal.CALM:
        return replace(state, calm=0), Verdict.KEEP
    calm = state.calm + 1
    if calm >= recover_after:
        return RuleState(), Verdict.RESOLVE
    return replace(state, calm=calm), Verdict.KEEP


def percent(rate: float) -> str:
    return f"{round(rate * 100)}%"


def window_text(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"


def rate_message(model_id: str, rule: RateRule, current: Counts, baseline: Counts | None) -> str:
    """What a person on call reads first, e.g. "flux-pro: 41% of 220 finished generations
    failed in the last 10 min (same window yesterday: 3% of 190)"."""
    text = (
        f"{model_id}: {percent(current.rate)} of {current.finished} finished generations "
        f"failed in the last {window_text(rule.window)}"
    )
    if baseline is None or baseline.finished == 0:
        return text + " (same window yesterday: no finished generations)"
    return text + f" (same window yesterday: {percent(baseline.rate)} of {baseline.finished})"


def flatline_message(scope: str, rule: FlatlineRule, baseline_finished: int) -> str:
    return (
        f"{scope}: generations stopped finishing — none in the last {window_text(rule.window)} "
        f"(same window yesterday: {baseline_finished})"
    )


def spike_message(
    category: str, model_id: str | None, rule: SpikeRule, counts: FailureCounts
) -> str:
    """E.g. "rate_limit on flux-pro: 40 failures in the last 10 min (same window yesterday:
    2; last 24 h: 30)"."""
    scope = f"{category} on {model_id}" if model_id else f"{category} (no model)"
    return (
        f"{scope}: {counts.current} failures in the last {window_text(rule.window)} "
        f"(same window yesterday: {counts.day_before}; last 24 h: {counts.trailing_day})"
    )


@dataclass(frozen=True, slots=True)
class PathHealth:
    """What one sweep saw of the webhook path: pg_net's answered deliveries to failwatch's
    hooks since the last sweep, its queue, and failures only the sweep found."""

    ok: int = 0
    failed: int = 0  # answered with a status other than 2xx
    errors: int = 0  # no answer: connection refused, DNS, TLS… (not a timeout)
    timeouts: int = 0
    queue: int = 0
    previous_queue: int | None = None
    missed: int = 0  # failed rows the missed-failure sweep found without a webhook
    # Whether pg_net's background worker is running; None when the database does not let
    # failwatch see it (no such process is no proof then).
    worker_running: bool | None = None


def path_signal(health: PathHealth) -> tuple[Signal, str]:
    """Is the way from Supabase to failwatch broken? A timeout alone says nothing: pg_net
    may record one for a call that was delivered. Persistence is `advance`'s job."""
    if health.worker_running is False:
        return Signal.BREACH, (
            f"webhook path: pg_net's worker is not running: nothing queued is sent "
            f"({health.queue} requests waiting)"
        )
    if health.failed or health.errors:
        return Signal.BREACH, (
            f"webhook path: {health.failed + health.errors} pg_net deliveries to failwatch "
            f"failed since the last sweep ({health.ok} delivered)"
        )
    if health.previous_queue is not None and health.queue > health.previous_queue > 0:
        return Signal.BREACH, (
            f"webhook path: pg_net's queue keeps growing ({health.previous_queue} → "
            f"{health.queue} requests): its worker is behind or not running"
        )
    if health.missed and not health.ok:
        return Signal.BREACH, (
            f"webhook path: {health.missed} failures turned up only through the sweep, "
            "none by webhook: the webhook is missing or broken"
        )
    return Signal.CALM, "webhook path: deliveries are arriving"
