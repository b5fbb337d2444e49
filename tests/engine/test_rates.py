"""engine.rates: failure-rate, spike, flatline and webhook-path signals, and firing with
hysteresis."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.engine.rates import (
    DAY,
    Counts,
    FailureCounts,
    FlatlineRule,
    PathHealth,
    RateRule,
    RuleState,
    Signal,
    SpikeRule,
    Verdict,
    advance,
    flatline_message,
    flatline_signal,
    is_spike,
    path_signal,
    rate_message,
    rate_signal,
    rule_for,
    spike_message,
    spike_signal,
    usual_failures,
    window_text,
)

RULE = RateRule()  # window 10m, min_finished 20, min_failed 5, threshold 0.25, 3x and +0.10
NOW = 50_000.0


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [
        # 41% of 220 against 3% of 190: far over the threshold
        (Counts(220, 90), Counts(190, 6), Signal.BREACH),
        # exactly the threshold fires (at or above)
        (Counts(100, 25), None, Signal.BREACH),
        # 50% of 6 finished: too few finished to decide anything
        (Counts(6, 3), None, Signal.UNKNOWN),
        # 19 finished is one short of min_finished
        (Counts(19, 19), None, Signal.UNKNOWN),
        # 4 of 20 is 20%: under the threshold, over half of it
        (Counts(20, 4), None, Signal.ELEVATED),
        # 30% with fewer than min_failed failures cannot fire (3 of 10 is below both minimums)
        (Counts(10, 3), None, Signal.UNKNOWN),
        # 2% is calm: below half the threshold
        (Counts(1000, 20), Counts(1000, 20), Signal.CALM),
        # 20% against 2%: 10x and 18 points above — a spike under the threshold
        (Counts(1000, 200), Counts(1000, 20), Signal.BREACH),
        # 20% against 15%: 18 points? no, 5 points and 1.3x — not a spike; over half threshold
        (Counts(1000, 200), Counts(1000, 150), Signal.ELEVATED),
        # 12% against 5%: under half the threshold and not a spike (2.4x) — calm
        (Counts(1000, 120), Counts(1000, 50), Signal.CALM),
        # 0.9% against 0.1%: 9x but not 10 points above — noise, and calm
        (Counts(1000, 9), Counts(1000, 1), Signal.CALM),
        # a baseline with too little traffic is no baseline: 20% is only elevated
        (Counts(1000, 200), Counts(10, 0), Signal.ELEVATED),
        # 10% against 0% with a usable baseline is a spike (3 x 0 and 10 points above)
        (Counts(200, 20), Counts(200, 0), Signal.BREACH),
        # a spike needs min_failed failures as well
        (Counts(40, 4), Counts(200, 0), Signal.ELEVATED),
    ],
)
def test_rate_signal(current: Counts, baseline: Counts | None, expected: Signal) -> None:
    assert rate_signal(RULE, current, baseline) is expected


@pytest.mark.parametrize(
    ("state", "signal", "expected_state", "verdict"),
    [
        # first breach with pending 2: pending, not firing yet
        (RuleState(), Signal.BREACH, RuleState(pending=1), Verdict.PENDING),
        # the second breach in a row fires
        (RuleState(pending=1), Signal.BREACH, RuleState(firing_since=NOW), Verdict.FIRE),
        # an elevated evaluation breaks the pending run
        (RuleState(pending=1), Signal.ELEVATED, RuleState(), Verdict.QUIET),
        # so does an evaluation without enough traffic
        (RuleState(pending=1), Signal.UNKNOWN, RuleState(), Verdict.QUIET),
        # firing and still breaching: keep, calm run reset
        (
            RuleState(calm=3, firing_since=1.0),
            Signal.BREACH,
            RuleState(firing_since=1.0),
            Verdict.KEEP,
        ),
        # firing and elevated (between half the threshold and it): keep, calm run reset
        (
            RuleState(calm=4, firing_since=1.0),
            Signal.ELEVATED,
            RuleState(firing_since=1.0),
            Verdict.KEEP,
        ),
        # firing, calm but not yet recover_after (5) times: keep, count it
        (
            RuleState(calm=3, firing_since=1.0),
            Signal.CALM,
            RuleState(calm=4, firing_since=1.0),
            Verdict.KEEP,
        ),
        # the fifth calm evaluation in a row resolves
        (RuleState(calm=4, firing_since=1.0), Signal.CALM, RuleState(), Verdict.RESOLVE),
        # firing without traffic: no news, nothing counted either way
        (
            RuleState(calm=2, firing_since=1.0),
            Signal.UNKNOWN,
            RuleState(calm=2, firing_since=1.0),
            Verdict.KEEP,
        ),
        # quiet and calm stays quiet
        (RuleState(), Signal.CALM, RuleState(), Verdict.QUIET),
    ],
)
def test_advance(
    state: RuleState, signal: Signal, expected_state: RuleState, verdict: Verdict
) -> None:
    assert advance(state, signal, pending=2, recover_after=5, now=NOW) == (expected_state, verdict)


def test_no_flapping_around_the_threshold() -> None:
    # 26%, 24%, 26%, 24%...: it fires once, and never resolves while hovering near the line.
    state, verdicts = RuleState(), []
    for step in range(20):
        counts = Counts(100, 26 if step % 2 == 0 else 24)
        state, verdict = advance(
            state, rate_signal(RULE, counts, None), pending=1, recover_after=5, now=float(step)
        )
        verdicts.append(verdict)
    assert verdicts.count(Verdict.FIRE) == 1
    assert Verdict.RESOLVE not in verdicts


@pytest.mark.parametrize(
    ("finished", "baseline", "expected"),
    [
        # nothing finished where 60 did a day earlier
        (0, 60, Signal.BREACH),
        # one finished: not a flatline
        (1, 60, Signal.CALM),
        # a quiet table a day earlier (49 < 50) says nothing
        (0, 49, Signal.UNKNOWN),
    ],
)
def test_flatline_signal(finished: int, baseline: int, expected: Signal) -> None:
    assert flatline_signal(FlatlineRule(), finished, baseline) is expected


def test_overrides_are_per_model() -> None:
    strict = RateRule(threshold=0.05)
    assert rule_for(RULE, {"flux-pro": strict}, "flux-pro") is strict
    assert rule_for(RULE, {"flux-pro": strict}, "sdxl") is RULE


def test_messages_a_person_can_act_on() -> None:
    assert rate_message("flux-pro", RULE, Counts(220, 90), Counts(190, 6)) == (
        "flux-pro: 41% of 220 finished generations failed in the last 10 min "
        "(same window yesterday: 3% of 190)"
    )
    assert rate_message("sdxl", RULE, Counts(40, 20), None).endswith(
        "(same window yesterday: no finished generations)"
    )
    assert flatline_message("all models", FlatlineRule(), 75) == (
        "all models: generations stopped finishing — none in the last 15 min "
        "(same window yesterday: 75)"
    )


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        # failed deliveries: a breach (advance needs it to persist before firing)
        (PathHealth(ok=10, failed=2), Signal.BREACH),
        # no answer at all (connection refused): a breach
        (PathHealth(errors=1), Signal.BREACH),
        # a timeout alone never alerts: pg_net may time out a delivered call
        (PathHealth(ok=10, timeouts=3), Signal.CALM),
        # a queue growing from one sweep to the next: the worker is behind or gone
        (PathHealth(queue=40, previous_queue=12), Signal.BREACH),
        # a queue that stays put, or was empty, is not growing
        (PathHealth(queue=12, previous_queue=12), Signal.CALM),
        (PathHealth(queue=3, previous_queue=0), Signal.CALM),
        # failures only the sweep found, and no webhook got through: the webhook is broken
        (PathHealth(missed=4), Signal.BREACH),
        # the sweep found some but webhooks arrive too: a lost call now and then
        (PathHealth(ok=5, missed=1), Signal.CALM),
        # pg_net's worker is not running: nothing queued will ever be sent
        (PathHealth(worker_running=False), Signal.BREACH),
        # running, and deliveries arrive
        (PathHealth(ok=5, worker_running=True), Signal.CALM),
        # unknown (the database hides other roles' processes): no news, not an alarm
        (PathHealth(ok=5, worker_running=None), Signal.CALM),
    ],
)
def test_path_signal(health: PathHealth, expected: Signal) -> None:
    assert path_signal(health)[0] is expected


SPIKE = SpikeRule()  # window 10m, min_failed 10, factor 3: 144 windows in a day


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # 40 failures against 2 yesterday and 144 over the day (1 per window): a spike
        (FailureCounts(current=40, day_before=2, trailing_day=144), Signal.BREACH),
        # one failure after a silent day is not a spike: below min_failed
        (FailureCounts(current=1, day_before=0, trailing_day=0), Signal.CALM),
        # 9 after a silent day: still under min_failed, but over half of it
        (FailureCounts(current=9, day_before=0, trailing_day=0), Signal.ELEVATED),
        # 10 after a silent day: exactly min_failed fires
        (FailureCounts(current=10, day_before=0, trailing_day=0), Signal.BREACH),
        # 30 where the same window yesterday had 12: 2.5x, not 3x — elevated
        (FailureCounts(current=30, day_before=12, trailing_day=0), Signal.ELEVATED),
        # 36 against 12 yesterday: 3x and 24 more — a spike
        (FailureCounts(current=36, day_before=12, trailing_day=0), Signal.BREACH),
        # a bad night sets the bar too: 1440 over the day is 10 per window, 3x is 30
        (FailureCounts(current=29, day_before=0, trailing_day=1440), Signal.ELEVATED),
        (FailureCounts(current=30, day_before=0, trailing_day=1440), Signal.BREACH),
        # 3x of a tiny usual is not enough: 0.5 usual needs min_failed more (10.5)
        (FailureCounts(current=10, day_before=0, trailing_day=72), Signal.ELEVATED),
        # back under half the bar (5 of 10): calm
        (FailureCounts(current=4, day_before=0, trailing_day=500), Signal.CALM),
        # after a silent day the bar is min_failed (10): 4 is under half of it, calm; 5 is
        # exactly half, not yet calm
        (FailureCounts(current=4, day_before=0, trailing_day=0), Signal.CALM),
        (FailureCounts(current=5, day_before=0, trailing_day=0), Signal.ELEVATED),
        # no failures at all is calm, whatever yesterday held
        (FailureCounts(current=0, day_before=50, trailing_day=5000), Signal.CALM),
    ],
)
def test_spike_signal(counts: FailureCounts, expected: Signal) -> None:
    assert spike_signal(SPIKE, counts, history=True) is expected


def test_the_spike_rules_defaults_are_the_documented_ones() -> None:
    # README: a 10 min window, 10 failures and 3 times the usual, 2 to fire, 3 to resolve.
    assert SpikeRule() == SpikeRule(
        window=600.0, min_failed=10, factor=3.0, pending=2, recover_after=3
    )


def test_the_usual_window_is_the_trailing_days_share() -> None:
    # 144 failures over a day are one per 10 min window, exactly.
    assert usual_failures(SPIKE, FailureCounts(current=0, day_before=0, trailing_day=144)) == 1.0
    # ... unless the same window yesterday held more.
    assert usual_failures(SPIKE, FailureCounts(current=0, day_before=2, trailing_day=144)) == 2.0


def test_no_spike_without_a_day_of_history() -> None:
    # failwatch started an hour ago: a "silent yesterday" is only failwatch not watching
    counts = FailureCounts(current=500, day_before=0, trailing_day=0)
    assert spike_signal(SPIKE, counts, history=False) is Signal.UNKNOWN


def test_spike_message() -> None:
    counts = FailureCounts(current=40, day_before=2, trailing_day=30)
    assert spike_message("rate_limit", "flux-pro", SPIKE, counts) == (
        "rate_limit on flux-pro: 40 failures in the last 10 min "
        "(same window yesterday: 2; last 24 h: 30)"
    )
    assert spike_message("timeout", None, SPIKE, counts).startswith("timeout (no model): 40")


LOUDNESS = [Signal.CALM, Signal.ELEVATED, Signal.BREACH]


@given(
    current=st.integers(0, 100_000),
    day_before=st.integers(0, 100_000),
    trailing_day=st.integers(0, 10_000_000),
)
def test_a_spike_is_always_far_above_the_usual(
    current: int, day_before: int, trailing_day: int
) -> None:
    counts = FailureCounts(current, day_before, trailing_day)
    signal = spike_signal(SPIKE, counts, history=True)
    usual = max(day_before, trailing_day * SPIKE.window / DAY)
    if signal is Signal.BREACH:
        assert current >= SPIKE.min_failed
        assert current >= SPIKE.factor * usual
        assert current >= usual + SPIKE.min_failed
    if current == 0:
        assert signal is Signal.CALM
    # One more failure never makes it calmer.
    louder = spike_signal(SPIKE, FailureCounts(current + 1, day_before, trailing_day), history=True)
    assert LOUDNESS.index(louder) >= LOUDNESS.index(signal)


def test_the_verdicts_as_logged() -> None:
    assert [verdict.value for verdict in Verdict] == ["quiet", "pending", "fire", "keep", "resolve"]


def test_the_default_rules() -> None:
    # The README's defaults: a 10 min window judged once 20 generations finished and 5
    # failed, 25 % or 3 times yesterday's rate and 10 points above it, two breaching
    # sweeps to fire, five calm ones to resolve; a flatline over 15 min against a
    # baseline of 50.
    assert RateRule() == RateRule(
        window=600.0, min_finished=20, min_failed=5, threshold=0.25, spike_factor=3.0,
        spike_points=0.10, pending=2, recover_after=5,
    )  # fmt: skip
    assert FlatlineRule() == FlatlineRule(window=900.0, min_baseline=50, pending=2, recover_after=2)
    assert PathHealth() == PathHealth(
        ok=0, failed=0, errors=0, timeouts=0, queue=0, previous_queue=None, missed=0
    )
    assert Counts(finished=0, failed=0).rate == 0.0


def test_rules_and_states_are_values() -> None:
    values: list[RateRule | FlatlineRule | Counts | RuleState | PathHealth] = [
        RateRule(),
        FlatlineRule(),
        Counts(1, 0),
        RuleState(),
        PathHealth(),
    ]
    for value in values:
        with pytest.raises(AttributeError):
            setattr(value, fields(value)[0].name, 9)
    assert len(set(values)) == len(values)


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [
        # Exactly 5 failed at the threshold: a breach.
        (Counts(20, 5), None, Signal.BREACH),
        # Exactly half the threshold: not yet calm.
        (Counts(40, 5), None, Signal.ELEVATED),
        # 20 % is under the threshold, but a baseline of exactly 20 finished at 5 % makes
        # it a spike (4 times, 15 points over)...
        (Counts(50, 10), Counts(20, 1), Signal.BREACH),
        # ...while 19 finished yesterday is no baseline at all.
        (Counts(50, 10), Counts(19, 1), Signal.ELEVATED),
    ],
)
def test_rate_signal_at_its_bounds(
    current: Counts, baseline: Counts | None, expected: Signal
) -> None:
    assert rate_signal(RULE, current, baseline) is expected


@pytest.mark.parametrize(
    ("rate", "baseline", "spike"),
    [
        # Exactly 3 times, and more than 10 points above: a spike.
        (0.75, 0.25, True),
        # 3 times but only 6.25 points above: noise.
        (0.09375, 0.03125, False),
    ],
)
def test_is_spike(rate: float, baseline: float, spike: bool) -> None:
    assert is_spike(RULE, rate, baseline) is spike


def test_a_flatline_baseline_of_exactly_the_minimum_counts() -> None:
    assert flatline_signal(FlatlineRule(), finished=0, baseline_finished=50) is Signal.BREACH


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        # Whole hours, whole minutes, else seconds.
        (3600, "1 h"),
        (7200, "2 h"),
        (600, "10 min"),
        (90, "90 s"),
    ],
)
def test_window_text(seconds: float, text: str) -> None:
    assert window_text(seconds) == text


def test_a_baseline_of_one_generation_is_shown() -> None:
    assert rate_message("m", RULE, Counts(20, 5), Counts(1, 0)) == (
        "m: 25% of 20 finished generations failed in the last 10 min "
        "(same window yesterday: 0% of 1)"
    )


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        # A queue that grew from one request: growing.
        (PathHealth(ok=1, queue=2, previous_queue=1), (Signal.BREACH, None)),
        # Nothing wrong: calm, and said so.
        (PathHealth(ok=3), (Signal.CALM, "webhook path: deliveries are arriving")),
    ],
)
def test_path_signal_at_its_bounds(health: PathHealth, expected: tuple[Signal, str | None]) -> None:
    signal, message = path_signal(health)
    assert signal is expected[0]
    assert expected[1] is None or message == expected[1]
