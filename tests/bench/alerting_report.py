"""What the alerting benchmark found, judged against issue 3's targets, as markdown.

Pure: it takes what was recorded — every request's answer and latency, every Slack call
with its arrival time, the stored failures and the outbox rows — and derives per group
when the first message came and what it finally said, how many notifications reached the
destination, and the webhook's latency during the burst.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.bench.openloop import LoadResult, Sent

P99_TARGET_MS = 25.0  # the foundation's webhook target (issue 2)
FIRST_MARGIN = 1.0  # first notification within group_wait + this many seconds

_HEADER = re.compile(r"(\d+) failures? · (.+)$")


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    failures: int
    seconds: float
    group_wait: float
    group_interval: float
    rate_per_second: float  # the delivery worker's per-destination limit
    burst: int

    @property
    def notification_bound(self) -> int:
        """Issue 3: groups * (1 + burst seconds / group_interval), here per group."""
        return 1 + math.floor(self.seconds / self.group_interval)


@dataclass(frozen=True, slots=True)
class SlackCall:
    method: str  # chat.postMessage or chat.update
    at: float  # wall clock of the answer
    ok: bool
    in_thread: bool  # a thread reply (chat.postMessage with thread_ts)
    ts: str  # the top-level message it posts, updates or replies to
    title: str | None  # "rate_limit · flux-pro", from the header block
    count: int | None  # the header's failure count


def slack_call(method: str, at: float, body: Mapping[str, Any], answer: object) -> SlackCall:
    """One stand-in call, reduced to what the benchmark judges."""
    title, count = None, None
    for block in body.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "header":
            found = _HEADER.search(str(block["text"]["text"]))
            if found:
                count, title = int(found.group(1)), found.group(2)
            break
    ok = isinstance(answer, dict) and answer.get("ok") is True
    thread = str(body.get("thread_ts") or "")
    if thread:
        ts = thread
    elif method == "chat.update":
        ts = str(body.get("ts", ""))
    else:
        ts = str(answer.get("ts", "")) if isinstance(answer, dict) else ""
    return SlackCall(method, at, ok, bool(thread), ts, title, count)


@dataclass(frozen=True, slots=True)
class StoredGroup:
    title: str
    rows: int
    first_received: float  # failwatch's clock when the group's first failure was stored


@dataclass(frozen=True, slots=True)
class OutboxFact:
    title: str
    sequence: int  # 1 = the group's first flush
    created_at: float  # when the dispatcher flushed it into the outbox
    sent_at: float | None
    status: str


@dataclass(frozen=True, slots=True)
class Cores:
    """Average cores busy during the burst."""

    server: float
    generator: float
    standin: float
    other: float


@dataclass(frozen=True, slots=True)
class GroupResult:
    title: str
    accepted: int  # 202 "accepted" answers
    stored: int  # rows in the failures table
    first_received: float
    first_flushed: float | None  # outbox row of the first flush created
    first_slack: float | None  # the first top-level message arrived at Slack
    final_count: int | None  # the count its message ended up showing
    posts: int
    updates: int
    replies: int

    @property
    def first_delay(self) -> float | None:
        return None if self.first_slack is None else self.first_slack - self.first_received


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    description: str
    settings: AlertingSettings
    groups: list[GroupResult]
    latency: Latency
    windows: list[tuple[float, float, Latency]]  # (from, to) seconds into the burst
    max_lateness_ms: float
    p99_lateness_ms: float
    burst_seconds: float  # planned send of the last request
    answers: dict[str, int]  # outcome → count
    # At the destination, whichever group they name: top-level messages + updates, and
    # thread replies (all answered ok).
    notifications: int
    replies: int
    slack_calls_during_burst: int
    server_fraction_within_target: float | None  # from failwatch's own histogram
    outbox_sent: int
    outbox_other: int  # rows left pending or dead
    cores: Cores

    @property
    def bound(self) -> int:
        return len(self.groups) * self.settings.notification_bound


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_of(sent: Sequence[Sent]) -> Latency:
    ms = [s.latency * 1000 for s in sent]
    return Latency(
        count=len(ms),
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
        p999_ms=percentile(ms, 99.9),
        max_ms=max(ms),
    )


def analyse(
    *,
    name: str,
    description: str,
    settings: AlertingSettings,
    load: LoadResult,
    calls: Sequence[SlackCall],
    stored: Sequence[StoredGroup],
    outbox: Sequence[OutboxFact],
    server_fraction_within_target: float | None,
    cores: Cores,
) -> ScenarioResult:
    accepted: dict[str, int] = {}
    answers: dict[str, int] = {}
    for s in load.sent:
        key = s.outcome if s.status == 202 else f"{s.status} {s.outcome}".strip()
        answers[key] = answers.get(key, 0) + 1
        if s.status == 202 and s.outcome == "accepted":
            accepted[s.tag] = accepted.get(s.tag, 0) + 1
    stored_by = {g.title: g for g in stored}
    groups = [
        _group(title, accepted.get(title, 0), stored_by.get(title), calls, outbox)
        for title in sorted({s.tag for s in load.sent})
    ]
    burst_end = load.started_at + max(s.planned + s.latency for s in load.sent)
    burst_seconds = max(s.planned for s in load.sent)
    step = settings.group_interval
    windows = []
    start = 0.0
    while start <= burst_seconds:
        inside = [s for s in load.sent if start <= s.planned < start + step]
        if inside:
            windows.append((start, start + step, latency_of(inside)))
        start += step
    lateness = [s.lateness * 1000 for s in load.sent]
    return ScenarioResult(
        name=name,
        description=description,
        settings=settings,
        groups=groups,
        latency=latency_of(load.sent),
        windows=windows,
        max_lateness_ms=max(lateness),
        p99_lateness_ms=percentile(lateness, 99),
        burst_seconds=burst_seconds,
        answers=answers,
        notifications=sum(1 for c in calls if c.ok and not c.in_thread),
        replies=sum(1 for c in calls if c.ok and c.in_thread),
        slack_calls_during_burst=sum(1 for c in calls if load.started_at <= c.at <= burst_end),
        server_fraction_within_target=server_fraction_within_target,
        outbox_sent=sum(1 for o in outbox if o.status == "sent"),
        outbox_other=sum(1 for o in outbox if o.status != "sent"),
        cores=cores,
    )


def _group(
    title: str,
    accepted: int,
    stored: StoredGroup | None,
    calls: Sequence[SlackCall],
    outbox: Sequence[OutboxFact],
) -> GroupResult:
    mine = [c for c in calls if c.ok and c.title == title]
    posts = [c for c in mine if c.method == "chat.postMessage" and not c.in_thread]
    updates = [c for c in mine if c.method == "chat.update"]
    # Thread replies carry no header: they belong to the group whose message they reply to.
    own = {c.ts for c in posts}
    replies = sum(1 for c in calls if c.ok and c.in_thread and c.ts in own)
    first_flush = [o.created_at for o in outbox if o.title == title and o.sequence == 1]
    counted = [c for c in posts + updates if c.count is not None]
    last = max(counted, key=lambda c: c.at) if counted else None
    return GroupResult(
        title=title,
        accepted=accepted,
        stored=stored.rows if stored else 0,
        first_received=stored.first_received if stored else math.nan,
        first_flushed=min(first_flush) if first_flush else None,
        first_slack=min(c.at for c in posts) if posts else None,
        final_count=last.count if last else None,
        posts=len(posts),
        updates=len(updates),
        replies=replies,
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.0f}"


def markdown(result: ScenarioResult) -> list[str]:
    s = result.settings
    deadline = s.group_wait + FIRST_MARGIN
    firsts_ok = all(g.first_delay is not None and g.first_delay <= deadline for g in result.groups)
    counts_ok = all(g.final_count == g.accepted == g.stored for g in result.groups)
    lines = [
        f"#### Scenario: {result.name}",
        "",
        result.description,
        "",
        "| group | accepted | rows | first failure stored → flushed, ms | → at Slack, ms "
        f"| ≤ {deadline * 1000:.0f} ms | messages + updates | thread replies | final count |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for g in result.groups:
        flushed = None if g.first_flushed is None else g.first_flushed - g.first_received
        ok = g.first_delay is not None and g.first_delay <= deadline
        lines.append(
            f"| {g.title} | {g.accepted} | {g.stored} | {_ms(flushed)} | {_ms(g.first_delay)} "
            f"| {_verdict(ok)} | {g.posts} + {g.updates} | {g.replies} "
            f"| {g.final_count if g.final_count is not None else '—'} |"
        )
    lat = result.latency
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(result.answers.items()))
    server = (
        "—"
        if result.server_fraction_within_target is None
        else f"{result.server_fraction_within_target * 100:.2f} %"
    )
    lines += [
        "",
        f"- Notifications to the one destination (top-level messages + updates): "
        f"**{result.notifications}** (bound {len(result.groups)} * (1 + "
        f"{s.seconds:g} s / {s.group_interval:g} s) = {result.bound}: "
        f"{_verdict(result.notifications <= result.bound)}); thread replies besides: "
        f"{result.replies}; outbox rows sent: {result.outbox_sent}, left pending or dead: "
        f"{result.outbox_other}.",
        f"- First notification of every group within group_wait + 1 s = {deadline:g} s of its "
        f"first stored failure: {_verdict(firsts_ok)}.",
        f"- Final count in each group's message = accepted failures = stored rows: "
        f"{_verdict(counts_ok)}.",
        f"- Webhook latency over the burst ({lat.count} requests in "
        f"{result.burst_seconds:.1f} s, open loop): p50 {lat.p50_ms:.1f} ms, "
        f"p90 {lat.p90_ms:.1f} ms, **p99 {lat.p99_ms:.1f} ms** "
        f"(target ≤ {P99_TARGET_MS:g} ms: {_verdict(lat.p99_ms <= P99_TARGET_MS)}), "
        f"p99.9 {lat.p999_ms:.1f} ms, max {lat.max_ms:.0f} ms. Answers: {answers}. "
        f"Slack calls during the burst: {result.slack_calls_during_burst}.",
        f"- Requests failwatch itself timed at ≤ 25 ms (its histogram): {server}. "
        f"Sender lateness (planned → sent): p99 {result.p99_lateness_ms:.1f} ms, "
        f"max {result.max_lateness_ms:.1f} ms.",
        f"- Cores during the burst: failwatch {result.cores.server:.2f}, load generator "
        f"{result.cores.generator:.2f}, Slack stand-in {result.cores.standin:.2f}, "
        f"everything else {result.cores.other:.2f}.",
        "",
        "p99 by "
        + f"{s.group_interval:g}-second window of the burst (ms): "
        + ", ".join(f"{start:g} to {end:g} s: {w.p99_ms:.1f}" for start, end, w in result.windows)
        + ".",
        "",
    ]
    return lines


def summary_row(result: ScenarioResult) -> str:
    """One line of the table that puts the scenarios side by side."""
    delays = [g.first_delay for g in result.groups if g.first_delay is not None]
    first = f"{statistics.median(delays):.2f} s (worst {max(delays):.2f} s)" if delays else "—"
    counts_ok = all(g.final_count == g.accepted == g.stored for g in result.groups)
    return (
        f"| {result.name} | {result.notifications} (≤ {result.bound}) | {result.replies} "
        f"| {first} | {result.latency.p99_ms:.1f} ms | {'yes' if counts_ok else '**no**'} |"
    )
