"""Issue 14's storm benchmark: 3,000 distinct model ids in 30 s, then one ordinary failure.

An app that lets users pick a model string or a LoRA id fails with a different
`model_id` on every request during an outage. 3,000 such failures (all `unknown`, each
its own model) arrive within 30 s (open loop, `openloop.py`) at `failwatch serve` with
SQLite state and Slack in bot mode pointed at the loopback stand-in, which rate-limits
like Slack (1 message per second per channel, bursts of 3, 429 with Retry-After beyond).
Right after the flood, one ordinary failure (a timeout on flux-pro) arrives.

The issue's targets are over 10 minutes with the default timings; the run is scaled
down 5 times, timings and window alike: group_wait 6 s (30 s), group_interval 60 s (5 min),
notification_period 2 min (10 min), messages counted over the first 2 min (10 min).
The caps are the defaults (50 open groups per route and category, 20 updates per
receiver per period); the delivery limits are the defaults (1 message/s, bursts of 3).

Two scenarios: storm control as shipped, and with the group cap lifted
(max_groups 1,000,000, max_notifications 1,000,000) — 3,000 first messages then wait
behind Slack's rate limit, which is what the worker's idle cost is measured against.

Measured per scenario: top-level Slack messages (posts that are not thread replies)
within the window; the time from the ordinary failure's 202 to its first message;
while the backlog waits (a 20 s window from 5 s after the ordinary failure), the CPU
of the failwatch process itself (/proc/<pid>/stat), the fsync/fdatasync calls of its
threads (`perf stat` on the syscall tracepoints), and the machine's busy
cores besides it (other engineers' test runs share this machine).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from tests.bench.openloop import USER_PLACEHOLDER, Plan, read_result, write_plan
from tests.bench.payloads import WEBHOOK_PATH, failure_body
from tests.bench.report import machine
from tests.bench.results import keep
from tests.bench.servers import Server, busy_cpu_seconds, counter_values, free_ports
from tests.standins.slack import SlackStandIn

MODELS = 3000
FLOOD_SECONDS = 30.0
SCALE = 5  # the 10 minutes and default timings, divided by this
GROUP_WAIT = 30.0 / SCALE
WINDOW = 600.0 / SCALE  # "the first 10 minutes"
BACKLOG_DELAY = 5.0  # after the ordinary failure, before the idle window
BACKLOG_WINDOW = 20.0
FLOOD_ERROR = "Invalid LoRA weights"
ORDINARY_ERROR = "Request timed out after 30000ms"
CHANNEL = "#alerts"
MAX_CONNECTIONS = 32


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    env: dict[str, str]
    # Another revision's code, unpacked here (`--storm-baseline`); None: this checkout.
    source: Path | None = None


SCENARIOS = (
    Scenario("storm control (defaults)", {}),
    Scenario(
        "group cap lifted",
        {"FAILWATCH_MAX_GROUPS": "1000000", "FAILWATCH_MAX_NOTIFICATIONS": "1000000"},
    ),
)


@dataclass(frozen=True, slots=True)
class StormResult:
    scenario: str
    accepted: int
    top_level_in_window: int
    first_messages: int
    overflow_messages: int
    digests: int
    ordinary_latency_s: float | None  # None: not delivered within the window
    folded: float
    held: float
    rate_limited_answers: int
    pending_at_window_start: int
    pending_at_window_end: int
    process_cpu_share: float  # of one core, over the backlog window
    fsyncs_per_s: float | None  # None: perf could not attach
    machine_busy_cores: float
    others_busy_cores: float


@dataclass(frozen=True, slots=True)
class Idle:
    process_cpu_share: float
    fsyncs_per_s: float | None
    machine_busy_cores: float
    others_busy_cores: float


def run_storm(tmp: Path, *, baseline: str | None) -> list[StormResult]:
    scenarios = list(SCENARIOS)
    if baseline is not None:
        scenarios.append(Scenario(f"{baseline} (no storm control)", {}, _unpack(tmp, baseline)))
    results = []
    for index, scenario in enumerate(scenarios):
        folder = tmp / f"storm-{index}"
        folder.mkdir()
        print(f"storm: scenario {scenario.name}", flush=True)
        result = _run(folder, scenario)
        print(f"storm: {json.dumps(asdict(result))}", flush=True)
        results.append(result)
    return results


def _run(folder: Path, scenario: Scenario) -> StormResult:
    secret = secrets.token_hex(16)
    state = folder / "state.db"
    with SlackStandIn(rate_limit=1.0, burst=3) as slack:
        [port] = free_ports(1)
        server = Server(
            "failwatch serve",
            ["-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port)],
            port=port,
            log_path=folder / "failwatch.log",
            cwd=scenario.source,
            env={
                "FAILWATCH_STATE_URL": f"sqlite:///{state}",
                "FAILWATCH_WEBHOOK_SECRET": secret,
                "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
                "FAILWATCH_SLACK_CHANNEL": CHANNEL,
                "FAILWATCH_SLACK_API_URL": slack.api_url,
                "FAILWATCH_GROUP_WAIT": f"{GROUP_WAIT:g}s",
                "FAILWATCH_GROUP_INTERVAL": f"{300 / SCALE:g}s",
                # A revision without storm control would refuse its settings.
                **(
                    {}
                    if scenario.source
                    else {"FAILWATCH_NOTIFICATION_PERIOD": f"{600 / SCALE:g}s"}
                ),
                "FAILWATCH_LOG_LEVEL": "warning",
                **scenario.env,
            },
        )
        with server:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "pg_net/0.14.0",
                "x-supabase-webhook-source": secret,
            }
            accepted, flood_start = _flood(folder, server, headers)
            ordinary_at = _ordinary(server, headers)
            time.sleep(BACKLOG_DELAY)
            pending_before = _pending(state)
            idle = _measure_idle(server)
            pending_after = _pending(state)
            time.sleep(max(0.0, flood_start + WINDOW - time.time()))
            folded = sum(
                counter_values(server.url + "/metrics", "failwatch_groups_folded", "route").values()
            )
            held = sum(
                counter_values(
                    server.url + "/metrics", "failwatch_notifications_held", "receiver"
                ).values()
            )
            server.stop()
        calls = slack.calls
    posts = [
        c
        for c in calls
        if c.method == "chat.postMessage"
        and "thread_ts" not in c.body
        and c.status == 200
        and isinstance(c.answer, dict)
        and c.answer.get("ok")
        and flood_start <= c.at <= flood_start + WINDOW
    ]
    texts = [str(c.body.get("text", "")) for c in posts]
    ordinary = [c.at for c in posts if "timeout" in str(c.body.get("text", ""))]
    return StormResult(
        scenario=scenario.name,
        accepted=accepted,
        top_level_in_window=len(posts),
        first_messages=sum("New incident" in t for t in texts),
        overflow_messages=sum("more models failing" in t for t in texts),
        digests=sum("Digest" in t for t in texts),
        ordinary_latency_s=min(ordinary) - ordinary_at if ordinary else None,
        folded=folded,
        held=held,
        rate_limited_answers=sum(1 for c in calls if c.status == 429),
        pending_at_window_start=pending_before,
        pending_at_window_end=pending_after,
        process_cpu_share=idle.process_cpu_share,
        fsyncs_per_s=idle.fsyncs_per_s,
        machine_busy_cores=idle.machine_busy_cores,
        others_busy_cores=idle.others_busy_cores,
    )


def _flood(folder: Path, server: Server, headers: dict[str, str]) -> tuple[int, float]:
    """3,000 failures, each with its own model id, at a fixed rate over 30 s."""
    plan = Plan(
        url=server.url + WEBHOOK_PATH,
        headers=headers,
        templates={
            f"lora-{i:04d}": failure_body(
                model_id=f"lora-{i:04d}",
                error=FLOOD_ERROR,
                error_type="ModelError",
                user_id=USER_PLACEHOLDER,
            )
            for i in range(MODELS)
        },
        users=[f"user-{n:04d}" for n in range(500)],
        schedule=[(i * FLOOD_SECONDS / MODELS, f"lora-{i:04d}") for i in range(MODELS)],
        max_connections=MAX_CONNECTIONS,
    )
    plan_path, result_path = folder / "plan.json", folder / "load.json"
    write_plan(plan, plan_path)
    subprocess.run(
        [sys.executable, "-m", "tests.bench.openloop", str(plan_path), str(result_path)],
        check=True,
        timeout=FLOOD_SECONDS + 300,
    )
    load = read_result(result_path)
    accepted = sum(1 for s in load.sent if s.status == 202 and s.outcome == "accepted")
    return accepted, load.started_at


def _ordinary(server: Server, headers: dict[str, str]) -> float:
    """One ordinary failure; when it was accepted (wall clock)."""
    body = failure_body(model_id="flux-pro", error=ORDINARY_ERROR, error_type="ModelTimeoutError")
    body = body.replace(USER_PLACEHOLDER, "user-ordinary")
    response = httpx.post(
        server.url + WEBHOOK_PATH, content=body, headers=headers, timeout=10, trust_env=False
    )
    response.raise_for_status()
    return time.time()


def _measure_idle(server: Server) -> Idle:
    """The failwatch process's CPU and fsyncs over BACKLOG_WINDOW seconds (with SQLite
    in WAL mode and synchronous=FULL every commit is one, so they count commits too)."""
    cpu_before, busy_before = server.cpu_seconds(), busy_cpu_seconds()
    perf = subprocess.run(
        [
            "perf",
            "stat",
            "-x",
            ",",
            "-e",
            "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
            "-p",
            str(server.pid),
            "--",
            "sleep",
            str(BACKLOG_WINDOW),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=BACKLOG_WINDOW + 30,
    )
    cpu = server.cpu_seconds() - cpu_before
    busy = busy_cpu_seconds() - busy_before
    syncs = _perf_count(perf.stderr) if perf.returncode == 0 else None
    return Idle(
        process_cpu_share=cpu / BACKLOG_WINDOW,
        fsyncs_per_s=None if syncs is None else syncs / BACKLOG_WINDOW,
        machine_busy_cores=busy / BACKLOG_WINDOW,
        others_busy_cores=(busy - cpu) / BACKLOG_WINDOW,
    )


def _perf_count(csv: str) -> float | None:
    total, seen = 0.0, False
    for line in csv.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("syscalls:") and fields[0].isdigit():
            total += float(fields[0])
            seen = True
    return total if seen else None


def _pending(state: Path) -> int:
    with closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as conn:
        conn.execute("PRAGMA busy_timeout = 5000")
        row = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()
    return int(row[0])


def markdown(results: list[StormResult], facts: dict[str, str]) -> str:
    lines = [
        "### Storm: 3,000 distinct model ids in 30 s, then one ordinary failure",
        "",
        f"Timings ÷ {SCALE}: group_wait {GROUP_WAIT:g} s, group_interval {300 / SCALE:g} s,"
        f" notification_period {600 / SCALE:g} s; window {WINDOW:g} s (the issue's 10 min);"
        " Slack stand-in limits 1 message/s per channel, bursts of 3.",
        "",
        "| | " + " | ".join(r.scenario for r in results) + " |",
        "| --- | " + " | ".join("---" for _ in results) + " |",
    ]
    rows: list[tuple[str, Callable[[StormResult], str]]] = [
        ("failures accepted", lambda r: str(r.accepted)),
        ("top-level Slack messages in the window", lambda r: str(r.top_level_in_window)),
        ("… first messages / overflow / digests", _kinds),
        ("failures folded / updates held", lambda r: f"{r.folded:g} / {r.held:g}"),
        ("ordinary failure → its first message", _latency),
        ("429 answers from the stand-in", lambda r: str(r.rate_limited_answers)),
        (
            "backlog (pending rows) at the idle window's start → end",
            lambda r: f"{r.pending_at_window_start} → {r.pending_at_window_end}",
        ),
        ("failwatch CPU while the backlog waits", lambda r: f"{r.process_cpu_share:.1%}"),
        ("fsync + fdatasync per second", _fsyncs),
        (
            "other busy cores meanwhile (incl. the bench's Slack stand-in)",
            lambda r: f"{r.others_busy_cores:.2f}",
        ),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), ""]
    return "\n".join(lines)


def _kinds(result: StormResult) -> str:
    return f"{result.first_messages} / {result.overflow_messages} / {result.digests}"


def _latency(result: StormResult) -> str:
    if result.ordinary_latency_s is None:
        return f"not within {WINDOW:g} s"
    return f"{result.ordinary_latency_s:.1f} s (target ≤ {GROUP_WAIT + 5:g} s)"


def _fsyncs(result: StormResult) -> str:
    return "perf unavailable" if result.fsyncs_per_s is None else f"{result.fsyncs_per_s:.1f}"


def _unpack(tmp: Path, revision: str) -> Path:
    """A git revision's files in a folder of their own (`git archive`, no checkout)."""
    folder = tmp / "baseline"
    folder.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def storm_suite(tmp: Path, *, baseline: str | None = None) -> None:
    started = dt.datetime.now(dt.UTC)
    results = run_storm(tmp, baseline=baseline)
    facts = machine(state_dir=tmp)
    keep("storm", started, markdown(results, facts), [asdict(r) for r in results])
