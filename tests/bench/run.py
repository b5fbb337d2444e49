"""`make bench`: the suites of BENCHMARKS.md, in one run (`--suite` picks one of them).

- webhook: wrk against a bare JSON endpoint, the same endpoint storing each body durably
  first (`bare_app.py --state`: the durable floor) and `failwatch serve`, side by side for
  the whole suite and measured in rounds — bare, bare + commit, (a) distinct failures,
  (b) ignored updates —
  so each round's ratios compare runs made seconds apart under the same background load;
  then distinct failures at a steady rate (`--open-loop-rate`, 1,000 a second, for
  `--open-loop-seconds`), sent open-loop by `openloop.py`, for a p99 free of wrk's
  closed loop. The failwatch process is then fed failures until it has accepted `--events` of them,
  and its peak RSS (VmHWM) is read; after a graceful stop, the rows in its SQLite file
  must equal the accepted count.
- alerting: issue 3's burst (10,000 failures, 6 groups, 60 s) through `failwatch serve`
  to the Slack stand-in (`alerting.py`).
- growth: issue 18's costs at 100 k, 1 M (and, with --growth-sizes, 10 M) stored
  failures on SQLite and PostgreSQL (`growth.py`).
- storm: issue 14's flood of 3,000 distinct model ids then one ordinary failure, with
  storm control and with the group cap lifted (`storm.py`).
- replicas: issue 7's webhook throughput on one SQLite replica, one PostgreSQL replica
  and three PostgreSQL replicas, in rounds (`replicas.py`).
- console: issue 16's page render times with 1,000,000 failures in the store
  (`console.py`).
- instructions: instructions per webhook, path by path (failure, duplicate, ignored,
  401, and the bare endpoint), counted by callgrind in-process (`instructions.py`).

Results: a markdown block per suite on stdout and, with the raw numbers as JSON, in
bench-results/.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.bench.alerting import alerting_suite
from tests.bench.alerting_report import percentile
from tests.bench.console import console_suite
from tests.bench.growth import growth_suite
from tests.bench.instructions import instructions_suite, valgrind_binary
from tests.bench.openloop import USER_PLACEHOLDER, Plan, read_result, write_plan
from tests.bench.payloads import (
    WEBHOOK_PATH,
    completed_body,
    failure_body,
    wire_size,
    wrk_script,
)
from tests.bench.replicas import replicas_suite
from tests.bench.report import (
    BARE,
    DURABLE_FLOOR,
    FAILURES,
    IGNORED,
    Measurement,
    MemoryCheck,
    OpenLoopCheck,
    Settings,
    machine,
    markdown,
)
from tests.bench.results import keep
from tests.bench.servers import Server, busy_cpu_seconds, counter_values, free_ports
from tests.bench.storm import storm_suite
from tests.bench.wrk import WrkResult, run_wrk, wrk_binary

MAX_FILL_RUNS = 40
# Enough keep-alive connections that the open loop never waits for one.
OPEN_LOOP_CONNECTIONS = 64
OPEN_LOOP_USERS = 500
SUITES = ("webhook", "alerting", "storm", "replicas", "growth", "console", "instructions")


@dataclass(frozen=True, slots=True)
class Options:
    suites: tuple[str, ...]
    webhook: Settings
    alerting_failures: int
    alerting_seconds: float
    pool_size: int
    growth_sizes: tuple[int, ...]
    growth_stores: tuple[str, ...]
    console_failures: int
    console_requests: int
    storm_baseline: str | None
    instructions_requests: int
    instructions_warmup: int
    instructions_jobs: int


def main(argv: Sequence[str] | None = None) -> int:
    options = _options(argv)
    if {"webhook", "replicas"} & set(options.suites):
        wrk_binary()  # fail early, with the install hint
    if "instructions" in options.suites:
        valgrind_binary()
    with tempfile.TemporaryDirectory(prefix="failwatch-bench-") as tmp:
        for suite in options.suites:
            folder = Path(tmp) / suite
            folder.mkdir()
            if suite == "webhook":
                _Bench(folder, options.webhook).run()
            elif suite == "instructions":
                instructions_suite(
                    folder,
                    requests=options.instructions_requests,
                    warmup=options.instructions_warmup,
                    jobs=options.instructions_jobs,
                )
            elif suite == "alerting":
                alerting_suite(
                    folder, failures=options.alerting_failures, seconds=options.alerting_seconds
                )
            elif suite == "growth":
                growth_suite(folder, sizes=options.growth_sizes, kinds=options.growth_stores)
            elif suite == "console":
                console_suite(
                    folder,
                    failures=options.console_failures,
                    incidents=2_000,
                    days=30.0,
                    requests=options.console_requests,
                )
            elif suite == "storm":
                storm_suite(folder, baseline=options.storm_baseline)
            else:
                replicas_suite(folder, settings=options.webhook, pool_size=options.pool_size)
    return 0


def _options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--suite", choices=[*SUITES, "all"], default="all")
    parser.add_argument("--rounds", type=int, default=3, help="webhook and replicas")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per workload")
    parser.add_argument("--connections", type=int, default=32, help="webhook suite")
    parser.add_argument("--threads", type=int, default=2, help="webhook suite")
    parser.add_argument("--events", type=int, default=100_000, help="accepted before RSS")
    parser.add_argument(
        "--open-loop-rate", type=float, default=1_000.0, help="webhook suite: failures a second"
    )
    parser.add_argument("--open-loop-seconds", type=float, default=20.0, help="webhook suite")
    parser.add_argument("--alerting-failures", type=int, default=10_000)
    parser.add_argument("--alerting-seconds", type=float, default=60.0)
    parser.add_argument(
        "--pool-size", type=int, default=8, help="FAILWATCH_STATE_POOL_SIZE of each replica"
    )
    parser.add_argument(
        "--growth-sizes", default="100000,1000000", help="growth suite: failures preloaded"
    )
    parser.add_argument("--growth-stores", default="sqlite,postgres", help="growth suite")
    parser.add_argument("--console-failures", type=int, default=1_000_000)
    parser.add_argument("--console-requests", type=int, default=30, help="per page")
    parser.add_argument(
        "--storm-baseline",
        metavar="REV",
        help="storm suite: also run a git revision's code (e.g. one without storm control)",
    )
    parser.add_argument(
        "--instructions-requests", type=int, default=10_000, help="measured, per path"
    )
    parser.add_argument("--instructions-warmup", type=int, default=1_000, help="per path")
    parser.add_argument(
        "--instructions-jobs", type=int, default=2, help="callgrind processes at a time"
    )
    args = parser.parse_args(argv)
    return Options(
        suites=SUITES if args.suite == "all" else (args.suite,),
        webhook=Settings(
            rounds=args.rounds,
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            threads=args.threads,
            events=args.events,
            open_loop_rate=args.open_loop_rate,
            open_loop_seconds=args.open_loop_seconds,
        ),
        alerting_failures=args.alerting_failures,
        alerting_seconds=args.alerting_seconds,
        pool_size=args.pool_size,
        growth_sizes=tuple(int(n) for n in args.growth_sizes.split(",")),
        growth_stores=tuple(args.growth_stores.split(",")),
        console_failures=args.console_failures,
        console_requests=args.console_requests,
        storm_baseline=args.storm_baseline,
        instructions_requests=args.instructions_requests,
        instructions_warmup=args.instructions_warmup,
        instructions_jobs=args.instructions_jobs,
    )


class _Bench:
    def __init__(self, tmp: Path, settings: Settings) -> None:
        self.tmp = tmp
        self.settings = settings
        self.secret = secrets.token_hex(16)
        self.state_path = tmp / "state.db"
        bare_port, floor_port, failwatch_port = free_ports(3)
        self.bare = Server(
            "bare endpoint",
            ["-m", "tests.bench.bare_app", "--port", str(bare_port)],
            port=bare_port,
            log_path=tmp / "bare.log",
        )
        floor_state = str(tmp / "floor.db")
        self.floor = Server(
            "durable floor",
            ["-m", "tests.bench.bare_app", "--port", str(floor_port), "--state", floor_state],
            port=floor_port,
            log_path=tmp / "floor.log",
        )
        self.failwatch = Server(
            "failwatch serve",
            ["-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(failwatch_port)],
            port=failwatch_port,
            log_path=tmp / "failwatch.log",
            env={
                "FAILWATCH_STATE_URL": f"sqlite:///{self.state_path}",
                "FAILWATCH_WEBHOOK_SECRET": self.secret,
            },
        )
        self._scripts = 0

    def run(self) -> None:
        started = dt.datetime.now(dt.UTC)
        measurements: list[Measurement] = []
        with self.bare, self.floor, self.failwatch:
            workloads = self._workloads()
            for name, load in workloads.items():
                print(f"warm-up: {name}", flush=True)
                load(self.settings.warmup)
            for round_no in range(1, self.settings.rounds + 1):
                for name, load in workloads.items():
                    measurement = self._measure(name, round_no, load)
                    print(_progress(measurement), flush=True)
                    measurements.append(measurement)
            open_loop = self._open_loop()
            print(_open_loop_progress(open_loop), flush=True)
            memory = self._fill_and_read_memory()
        memory = self._check_rows(memory)
        self._write(started, measurements, open_loop, memory)

    def _workloads(self) -> dict[str, Callable[[float], WrkResult]]:
        failure, completed = failure_body(), completed_body()
        return {
            BARE: lambda seconds: self._wrk(self.bare, failure, seconds),
            DURABLE_FLOOR: lambda seconds: self._wrk(self.floor, failure, seconds),
            FAILURES: lambda seconds: self._wrk(self.failwatch, failure, seconds),
            IGNORED: lambda seconds: self._wrk(self.failwatch, completed, seconds),
        }

    def _wrk(self, server: Server, body: str, seconds: float) -> WrkResult:
        # A new nonce per run keeps every generation id of the whole benchmark distinct.
        self._scripts += 1
        script = self.tmp / f"run-{self._scripts}.lua"
        script.write_text(wrk_script(body, secret=self.secret, run_nonce=self._scripts))
        return run_wrk(
            server.url + WEBHOOK_PATH,
            script,
            connections=self.settings.connections,
            threads=self.settings.threads,
            seconds=seconds,
        )

    def _servers_cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in (self.bare, self.floor, self.failwatch))

    def _measure(self, name: str, round_no: int, load: Callable[[float], WrkResult]) -> Measurement:
        servers_before = self._servers_cpu_seconds()
        busy_before = busy_cpu_seconds()
        result = load(self.settings.duration)
        busy = busy_cpu_seconds() - busy_before
        servers = self._servers_cpu_seconds() - servers_before
        # Whatever else kept the cores busy meanwhile (other jobs on the machine).
        other = (busy - servers - result.wrk_cpu_seconds) / result.seconds
        return Measurement(
            workload=name,
            round=round_no,
            requests=result.requests,
            seconds=result.seconds,
            requests_per_second=result.requests_per_second,
            p50_ms=result.p50_ms,
            p90_ms=result.p90_ms,
            p99_ms=result.p99_ms,
            max_ms=result.max_ms,
            errors=result.error_count,
            server_cores=servers / result.seconds,
            wrk_cores=result.wrk_cpu_seconds / result.seconds,
            other_cores=other,
            load_average=os.getloadavg()[0],
        )

    def _open_loop(self) -> OpenLoopCheck:
        """Distinct failures at a steady rate (`openloop.py`, in a process of its own)."""
        rate, seconds = self.settings.open_loop_rate, self.settings.open_loop_seconds
        count = round(rate * seconds)
        plan = Plan(
            url=self.failwatch.url + WEBHOOK_PATH,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "pg_net/0.14.0",
                "x-supabase-webhook-source": self.secret,
            },
            templates={"failure": failure_body(user_id=USER_PLACEHOLDER)},
            users=[f"user-{n:04d}" for n in range(OPEN_LOOP_USERS)],
            schedule=[(i / rate, "failure") for i in range(count)],
            max_connections=OPEN_LOOP_CONNECTIONS,
        )
        plan_path, result_path = self.tmp / "open-loop-plan.json", self.tmp / "open-loop.json"
        write_plan(plan, plan_path)
        server_before, busy_before = self.failwatch.cpu_seconds(), busy_cpu_seconds()
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "tests.bench.openloop", str(plan_path), str(result_path)],
            check=True,
            timeout=seconds + 300,
        )
        elapsed = time.monotonic() - started
        load = read_result(result_path)
        server = self.failwatch.cpu_seconds() - server_before
        # The client's CPU includes its start-up (imports): a slight overestimate.
        other = busy_cpu_seconds() - busy_before - server - load.cpu_seconds
        latencies = sorted(sent.latency * 1000 for sent in load.sent)
        lateness = sorted(sent.lateness * 1000 for sent in load.sent)
        return OpenLoopCheck(
            rate=rate,
            seconds=seconds,
            sent=len(load.sent),
            accepted=sum(1 for s in load.sent if s.status == 202 and s.outcome == "accepted"),
            not_accepted=dict(
                Counter(
                    f"{s.status} {s.outcome}"
                    for s in load.sent
                    if (s.status, s.outcome) != (202, "accepted")
                ).most_common()
            ),
            p50_ms=percentile(latencies, 50),
            p99_ms=percentile(latencies, 99),
            p999_ms=percentile(latencies, 99.9),
            max_ms=latencies[-1],
            lateness_p99_ms=percentile(lateness, 99),
            lateness_max_ms=lateness[-1],
            server_cores=server / elapsed,
            client_cores=load.cpu_seconds / elapsed,
            other_cores=other / elapsed,
            load_average=os.getloadavg(),
        )

    def _outcomes(self) -> dict[str, float]:
        return counter_values(
            self.failwatch.url + "/metrics", "failwatch_webhook_events", "outcome"
        )

    def _fill_and_read_memory(self) -> MemoryCheck:
        failure = failure_body()
        for _ in range(MAX_FILL_RUNS):
            accepted = self._outcomes().get("accepted", 0.0)
            missing = self.settings.events - accepted
            if missing <= 0:
                break
            print(f"filling: {accepted:.0f} of {self.settings.events} accepted", flush=True)
            result = self._wrk(self.failwatch, failure, 5.0)
            if result.error_count:
                raise RuntimeError(f"failwatch answered errors while filling:\n{result.output}")
        outcomes = self._outcomes()
        if outcomes.get("accepted", 0.0) < self.settings.events:
            raise RuntimeError(f"only {outcomes.get('accepted')} events accepted")
        return MemoryCheck(
            accepted=int(outcomes.get("accepted", 0)),
            duplicates=int(outcomes.get("duplicate", 0)),
            ignored=int(outcomes.get("ignored", 0)),
            rejected=int(
                sum(v for k, v in outcomes.items() if k not in ("accepted", "duplicate", "ignored"))
            ),
            failwatch_peak_rss_kib=self.failwatch.status_kib("VmHWM"),
            failwatch_rss_kib=self.failwatch.status_kib("VmRSS"),
            bare_peak_rss_kib=self.bare.status_kib("VmHWM"),
            rows=None,
            exit_code=None,
            stopped_cleanly=None,
        )

    def _check_rows(self, memory: MemoryCheck) -> MemoryCheck:
        # Read after the graceful stop, so the count is what is durably on disk.
        exit_code = self.failwatch.stop()
        with sqlite3.connect(self.state_path) as conn:
            rows = int(conn.execute("SELECT count(*) FROM failures").fetchone()[0])
        # The exit code says little (some uvicorn versions re-raise the SIGTERM after a
        # graceful shutdown: -15 either way); the lifespan's last log line tells a clean
        # stop from a crash.
        stopped = '"msg": "failwatch stopped"' in self.failwatch.log_path.read_text()
        return dataclasses.replace(memory, rows=rows, exit_code=exit_code, stopped_cleanly=stopped)

    def _write(
        self,
        started: dt.datetime,
        measurements: list[Measurement],
        open_loop: OpenLoopCheck,
        memory: MemoryCheck,
    ) -> None:
        about = machine(state_dir=self.tmp)
        text = markdown(
            started=started,
            settings=self.settings,
            machine=about,
            measurements=measurements,
            memory=memory,
            open_loop=open_loop,
            body_bytes={
                FAILURES: wire_size(failure_body()),
                IGNORED: wire_size(completed_body()),
            },
        )
        raw = {
            "started": started.isoformat(),
            "settings": asdict(self.settings),
            "machine": about,
            "measurements": [asdict(m) for m in measurements],
            "open_loop": asdict(open_loop),
            "memory": asdict(memory),
        }
        keep("bench", started, text, raw)


def _open_loop_progress(check: OpenLoopCheck) -> str:
    return (
        f"open loop {check.rate:g}/s for {check.seconds:g} s: {check.accepted} of {check.sent} "
        f"accepted  p50 {check.p50_ms:6.2f} ms  p99 {check.p99_ms:6.2f} ms  "
        f"client lateness p99 {check.lateness_p99_ms:.2f} ms"
    )


def _progress(m: Measurement) -> str:
    return (
        f"round {m.round} {m.workload:<13} {m.requests_per_second:8.0f} req/s  "
        f"p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:6.2f} ms  errors {m.errors}  "
        f"other load {m.other_cores:4.2f} cores"
    )


if __name__ == "__main__":
    raise SystemExit(main())
