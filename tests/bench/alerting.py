"""Issue 3's alerting benchmark: a model outage's burst through a real `failwatch serve`.

10,000 failures across 3 models and 2 categories (6 groups) arrive within 60 s at a fixed
rate (open loop, see `openloop.py`) at `failwatch serve` with SQLite state and Slack in
bot mode pointed at the loopback stand-in, with short timings (group_wait 2 s,
group_interval 10 s) and the default delivery limits (1 message/s per channel, bursts
of 3). Three scenarios: every group opens in the first second (the whole outage at
once); one group opens every 5 s (an outage that spreads); and the first again with
bursts of 6 per channel, which shows how much of the first messages' delay is the
per-channel rate limit.

Recorded: each request's answer and latency; each Slack call and when it came; after a
graceful stop, the stored failures and the outbox rows from the SQLite file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import resource
import secrets
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from receiver.config.settings import DeliverySettings
from tests.bench.alerting_report import (
    P99_TARGET_MS,
    AlertingSettings,
    Cores,
    OutboxFact,
    ScenarioResult,
    StoredGroup,
    analyse,
    markdown,
    slack_call,
    summary_row,
)
from tests.bench.openloop import USER_PLACEHOLDER, LoadResult, Plan, read_result, write_plan
from tests.bench.payloads import WEBHOOK_PATH, failure_body
from tests.bench.report import machine
from tests.bench.results import keep
from tests.bench.servers import Server, busy_cpu_seconds, fraction_within, free_ports
from tests.standins.slack import SlackStandIn

MODELS = ("flux-pro", "sdxl", "kling-v1")
# (category, message, errorContext.type): the default classifier's rate_limit and timeout.
CATEGORIES = (
    ("rate_limit", "Replicate API error: 429 Too Many Requests", "RateLimitError"),
    ("timeout", "Prediction timed out after 30012ms", "ModelTimeoutError"),
)
USERS = 500
MAX_CONNECTIONS = 64
CHANNEL = "#alerts"
SETTLE_TIMEOUT = 90.0


@dataclass(frozen=True, slots=True)
class Group:
    category: str
    model_id: str
    error: str
    error_type: str

    @property
    def title(self) -> str:
        """How failwatch's Slack header names the group: `rate_limit · flux-pro`."""
        return f"{self.category} · {self.model_id}"


GROUPS = tuple(
    Group(category, model, error, error_type)
    for model in MODELS
    for category, error, error_type in CATEGORIES
)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    stagger: float  # seconds between the openings of successive groups
    burst: int | None = None  # FAILWATCH_DELIVERY__BURST, if not the default

    def describe(self, settings: AlertingSettings) -> str:
        rate = settings.failures / settings.seconds
        if self.stagger == 0:
            spread = (len(GROUPS) - 1) * settings.seconds / settings.failures * 1000
            opening = (
                f"all {len(GROUPS)} groups open in the first {spread:.0f} ms "
                "(requests go to them in turn)"
            )
        else:
            opening = (
                f"group k opens at k * {self.stagger:g} s (k = 0…5); each request goes to "
                "the open groups in turn"
            )
        limits = (
            ""
            if self.burst is None
            else f" Bursts of {self.burst} messages per channel instead of {settings.burst} "
            f"(FAILWATCH_DELIVERY__BURST={self.burst}), to tell the rate limit's share of "
            "the first messages' delay from the rest."
        )
        return (
            f"{settings.failures:,} failures at {rate:.1f} req/s for {settings.seconds:g} s; "
            f"{opening}.{limits}"
        )


SCENARIOS = (
    Scenario("together", 0.0),
    Scenario("staggered", 5.0),
    Scenario("together, burst 6", 0.0, burst=len(GROUPS)),
)


def schedule(
    titles: list[str], *, failures: int, seconds: float, stagger: float
) -> list[tuple[float, str]]:
    """When each request leaves and for which group: a fixed rate, groups in turn among
    those already open."""
    planned = []
    for index in range(failures):
        at = index * seconds / failures
        open_groups = [t for k, t in enumerate(titles) if k * stagger <= at]
        planned.append((at, open_groups[index % len(open_groups)]))
    return planned


def run_alerting(tmp: Path, *, failures: int, seconds: float) -> list[ScenarioResult]:
    delivery = DeliverySettings()
    settings = AlertingSettings(
        failures=failures,
        seconds=seconds,
        group_wait=2.0,
        group_interval=10.0,
        rate_per_second=delivery.rate_per_second,
        burst=delivery.burst,
    )
    results: list[ScenarioResult] = []
    for scenario in SCENARIOS:
        folder = tmp / f"alerting-{len(results)}"
        folder.mkdir()
        print(f"alerting: scenario {scenario.name}", flush=True)
        result = _Scenario(folder, scenario, settings).run()
        print(
            f"alerting: {scenario.name}: {result.notifications} notifications "
            f"(bound {result.bound}), p99 {result.latency.p99_ms:.1f} ms",
            flush=True,
        )
        results.append(result)
    return results


class _Scenario:
    def __init__(self, folder: Path, scenario: Scenario, settings: AlertingSettings) -> None:
        self.folder = folder
        self.scenario = scenario
        self.settings = settings
        self.secret = secrets.token_hex(16)
        self.state_path = folder / "state.db"

    def run(self) -> ScenarioResult:
        with SlackStandIn() as slack:
            [port] = free_ports(1)
            server = Server(
                "failwatch serve",
                ["-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port)],
                port=port,
                log_path=self.folder / "failwatch.log",
                env={
                    "FAILWATCH_STATE_URL": f"sqlite:///{self.state_path}",
                    "FAILWATCH_WEBHOOK_SECRET": self.secret,
                    "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
                    "FAILWATCH_SLACK_CHANNEL": CHANNEL,
                    "FAILWATCH_SLACK_API_URL": slack.api_url,
                    "FAILWATCH_GROUP_WAIT": f"{self.settings.group_wait:g}s",
                    "FAILWATCH_GROUP_INTERVAL": f"{self.settings.group_interval:g}s",
                    **(
                        {}
                        if self.scenario.burst is None
                        else {"FAILWATCH_DELIVERY__BURST": str(self.scenario.burst)}
                    ),
                },
            )
            with server:
                load, cores = self._burst(server)
                within = fraction_within(
                    server.url + "/metrics",
                    "failwatch_request_duration_seconds",
                    route="receive_webhook",
                    seconds=P99_TARGET_MS / 1000,
                )
                self._settle(slack, load)
                server.stop()
            calls = [
                slack_call(c.method, c.at, c.body, c.answer)
                for c in slack.calls
                if c.method in ("chat.postMessage", "chat.update")
            ]
        stored, outbox = self._read_state()
        return analyse(
            name=self.scenario.name,
            description=self.scenario.describe(self.settings),
            settings=self.settings,
            load=load,
            calls=calls,
            stored=stored,
            outbox=outbox,
            server_fraction_within_target=within,
            cores=cores,
        )

    def _burst(self, server: Server) -> tuple[LoadResult, Cores]:
        titles = [g.title for g in GROUPS]
        plan = Plan(
            url=server.url + WEBHOOK_PATH,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "pg_net/0.14.0",
                "x-supabase-webhook-source": self.secret,
            },
            templates={
                g.title: failure_body(
                    model_id=g.model_id,
                    error=g.error,
                    error_type=g.error_type,
                    user_id=USER_PLACEHOLDER,
                )
                for g in GROUPS
            },
            users=[f"user-{n:04d}" for n in range(USERS)],
            schedule=schedule(
                titles,
                failures=self.settings.failures,
                seconds=self.settings.seconds,
                stagger=self.scenario.stagger,
            ),
            max_connections=MAX_CONNECTIONS,
        )
        plan_path, result_path = self.folder / "plan.json", self.folder / "load.json"
        write_plan(plan, plan_path)
        server_before, busy_before = server.cpu_seconds(), busy_cpu_seconds()
        self_before, started = _own_cpu_seconds(), time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "tests.bench.openloop", str(plan_path), str(result_path)],
            check=True,
            timeout=self.settings.seconds + 300,
        )
        elapsed = time.monotonic() - started
        load = read_result(result_path)
        server_cpu = server.cpu_seconds() - server_before
        standin_cpu = _own_cpu_seconds() - self_before
        busy = busy_cpu_seconds() - busy_before
        # The generator's CPU includes its start-up (imports): a slight overestimate.
        other = busy - server_cpu - standin_cpu - load.cpu_seconds
        cores = Cores(
            server=server_cpu / elapsed,
            generator=load.cpu_seconds / elapsed,
            standin=standin_cpu / elapsed,
            other=other / elapsed,
        )
        return load, cores

    def _settle(self, slack: SlackStandIn, load: LoadResult) -> None:
        """Wait until every group's message shows all its accepted failures and the
        outbox is empty (the last flush comes up to one group_interval after the burst)."""
        expected: dict[str, int] = {}
        for sent in load.sent:
            if sent.status == 202 and sent.outcome == "accepted":
                expected[sent.tag] = expected.get(sent.tag, 0) + 1

        def shown(standin: SlackStandIn) -> bool:
            counts: dict[str, int] = {}
            for message in standin.messages.values():
                call = slack_call("chat.update", 0.0, {"blocks": message.blocks}, {"ok": True})
                if call.title is not None and call.count is not None:
                    counts[call.title] = max(counts.get(call.title, 0), call.count)
            return counts == expected

        try:
            slack.wait_for(shown, timeout=SETTLE_TIMEOUT)
        except TimeoutError:
            print("alerting: the final counts never reached Slack (reported below)", flush=True)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while self._pending() and time.monotonic() < deadline:
            time.sleep(0.2)

    def _pending(self) -> int:
        with closing(sqlite3.connect(f"file:{self.state_path}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()
        return int(row[0])

    def _read_state(self) -> tuple[list[StoredGroup], list[OutboxFact]]:
        with closing(sqlite3.connect(self.state_path)) as conn:
            stored = [
                StoredGroup(title=f"{category} · {model}", rows=int(rows), first_received=first)
                for category, model, rows, first in conn.execute(
                    "SELECT category, model_id, count(*), min(received_at) FROM failures "
                    "GROUP BY category, model_id"
                )
            ]
            outbox = []
            for labels, notification, created, sent, status in conn.execute(
                "SELECT g.labels, o.notification_id, o.created_at, o.sent_at, o.status "
                "FROM outbox o JOIN groups g ON o.stream LIKE g.group_key || ':%'"
            ):
                facts = _labels(labels)
                outbox.append(
                    OutboxFact(
                        title=f"{facts['category']} · {facts['model_id']}",
                        sequence=int(str(notification).rsplit("-", 1)[1]),
                        created_at=float(created),
                        sent_at=None if sent is None else float(sent),
                        status=str(status),
                    )
                )
        return stored, outbox


def _labels(text: str) -> dict[str, str]:
    data = json.loads(text)
    return {str(k): str(v) for k, v in data.items()}


def _own_cpu_seconds() -> float:
    """This process's CPU time: the Slack stand-in's thread, while the main one waits."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def alerting_suite(tmp: Path, *, failures: int, seconds: float) -> None:
    """Run every scenario; print and keep the markdown block and the raw numbers."""
    started = dt.datetime.now(dt.UTC)
    results = run_alerting(tmp, failures=failures, seconds=seconds)
    about = machine(state_dir=tmp)
    settings = results[0].settings
    lines = [
        f"### Alerting run of {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Machine: {about['cores']} cores ({about['cpu']}), Linux {about['kernel']}, "
        f"Python {about['python']}, SQLite {about['sqlite']} "
        f"(state on {about['state_filesystem']}).",
        f"- `failwatch serve` (SQLite state, `synchronous=FULL`), Slack in bot mode at the "
        f"loopback stand-in (one channel); FAILWATCH_GROUP_WAIT={settings.group_wait:g}s, "
        f"FAILWATCH_GROUP_INTERVAL={settings.group_interval:g}s, delivery limits at their "
        f"defaults ({settings.rate_per_second:g} message/s per channel, bursts of "
        f"{settings.burst}).",
        "- Load: an open-loop httpx client in its own process (`tests/bench/openloop.py`), "
        "pg_net-shaped UPDATE bodies, a new generation id per request, 500 users in turn.",
        "",
        "| scenario | notifications (bound) | thread replies | first message after the "
        "group's first failure: median | webhook p99 | final counts = accepted |",
        "| --- | ---: | ---: | --- | ---: | --- |",
        *(summary_row(result) for result in results),
        "",
    ]
    for result in results:
        lines += markdown(result)
    raw = {
        "started": started.isoformat(),
        "machine": about,
        "scenarios": [dataclasses.asdict(result) for result in results],
    }
    keep("alerting", started, "\n".join(lines), raw)
