"""The stable measure: instructions per webhook, path by path, counted by callgrind.

Wall-clock req/s moves with whatever else runs on the machine; the number of
instructions a request executes does not. `tests.bench.inprocess` drives the ASGI app
in-process (no sockets, no HTTP parser: uvicorn's and httptools' share is the same for
every path and not counted here); this suite runs it under
`valgrind --tool=callgrind`, which zeroes its counters at each path's start mark and
dumps them at its end mark, so each dump holds one path's instructions — every thread's,
the SQLite writer's included. Warm-up requests are outside the marks.

What still moves between runs is the group commit: how many failures share one SQLite
transaction depends on when valgrind's scheduler (one thread at a time) lets the writer
thread run, and each commit has a cost of its own. The failure and duplicate rows show
their requests per commit; compare counts made at similar batch sizes.

Run: `make bench BENCH_ARGS="--suite instructions"` (about 10 minutes under load;
`--instructions-requests` sets the measured requests per path, default 10,000).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.bench.inprocess import PATHS
from tests.bench.results import keep

# Two C functions of the interpreter that only the driver's marks call.
START_MARK = "sys_getswitchinterval"
END_MARK = "sys_getallocatedblocks"
_SUMMARY = re.compile(r"^summary:\s*(\d+)", re.MULTILINE)
_TRIGGER = re.compile(r"^desc: Trigger: (.*)$", re.MULTILINE)

LABELS = {
    "floor": "floor (the driver alone)",
    "bare": "bare Starlette endpoint",
    "failure": "failure (new, committed)",
    "duplicate": "duplicate",
    "ignored": "ignored (`completed`)",
    "unauthorized": "401 (wrong secret)",
}


@dataclass(frozen=True, slots=True)
class PathCount:
    path: str
    requests: int
    instructions: int
    commits: int

    @property
    def per_request(self) -> float:
        return self.instructions / self.requests


def valgrind_binary() -> str:
    found = shutil.which("valgrind")
    if found is None:
        raise SystemExit(
            "the instructions suite needs valgrind: sudo apt-get install valgrind (Debian/Ubuntu)"
        )
    return found


def under_callgrind(out: Path, module: str, *args: str) -> list[str]:
    """`python -m module args` under callgrind, its counters zeroed at each start mark and
    dumped (into `out`.N) at each end mark."""
    return [
        valgrind_binary(),
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        f"--zero-before={START_MARK}",
        f"--dump-before={END_MARK}",
        "--dump-instr=no",
        "--dump-line=no",
        sys.executable,
        "-m",
        module,
        *args,
    ]


# A fixed hash seed: string hashing (and so dict and set layouts) is then the same in
# every run.
CALLGRIND_ENV = {**os.environ, "PYTHONHASHSEED": "0"}


def count_instructions(
    folder: Path, *, requests: int, warmup: int, paths: tuple[str, ...] = PATHS
) -> list[PathCount]:
    """Run the in-process driver under callgrind; one count per path."""
    out = folder / "callgrind.out"
    command = under_callgrind(
        out,
        "tests.bench.inprocess",
        "--json",
        f"--requests={requests}",
        f"--warmup={warmup}",
        f"--paths={','.join(paths)}",
    )
    with (folder / "driver.log").open("wb") as log:
        done = subprocess.run(
            command, env=CALLGRIND_ENV, stdout=subprocess.PIPE, stderr=log, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(
            f"the driver failed under callgrind (exit {done.returncode}); "
            f"see the end of {folder / 'driver.log'}"
        )
    runs = [json.loads(line) for line in done.stdout.decode().splitlines() if line.startswith("{")]
    dumps = dump_counts(out)
    # The first dump is the driver's empty section (see inprocess.py), then one per path.
    if len(dumps) != len(runs) + 1:
        raise RuntimeError(f"expected {len(runs) + 1} callgrind dumps, found {len(dumps)}")
    return [
        PathCount(
            path=run["path"],
            requests=run["requests"],
            instructions=instructions,
            commits=run["commits"],
        )
        for run, instructions in zip(runs, dumps[1:], strict=True)
    ]


def dump_counts(out: Path) -> list[int]:
    """The instruction count of each `--dump-before` dump, in order."""
    parts = sorted(out.parent.glob(f"{out.name}.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
    counts = []
    for part in parts:
        text = part.read_text(errors="replace")
        trigger = _TRIGGER.search(text)
        summary = _SUMMARY.search(text)
        if trigger is None or END_MARK not in trigger.group(1) or summary is None:
            raise RuntimeError(f"{part} is not a dump at the end mark")
        counts.append(int(summary.group(1)))
    return counts


# Each group runs in a process of its own (duplicate resends the failures' bodies).
GROUPS: tuple[tuple[str, ...], ...] = (
    ("failure", "duplicate"),
    ("ignored",),
    ("unauthorized",),
    ("bare",),
    ("floor",),
)


def count_groups(folder: Path, *, requests: int, warmup: int, jobs: int) -> list[PathCount]:
    """Every path, its group in a fresh process, `jobs` processes at a time."""

    def run(group: tuple[str, ...]) -> list[PathCount]:
        sub = folder / "-".join(group)
        sub.mkdir()
        return count_instructions(sub, requests=requests, warmup=warmup, paths=group)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        counts = [c for group in pool.map(run, GROUPS) for c in group]
    return sorted(counts, key=lambda c: PATHS.index(c.path))


def instructions_suite(
    folder: Path, *, requests: int, warmup: int, jobs: int = 2
) -> list[PathCount]:
    started = dt.datetime.now(dt.UTC)
    print(f"instructions: {requests} requests per path under callgrind", flush=True)
    counts = count_groups(folder, requests=requests, warmup=warmup, jobs=jobs)
    text = markdown(started, counts, requests=requests, warmup=warmup)
    raw = {
        "started": started.isoformat(),
        "requests": requests,
        "warmup": warmup,
        "valgrind": _valgrind_version(),
        "counts": [asdict(c) | {"per_request": c.per_request} for c in counts],
    }
    keep("instructions", started, text, raw)
    return counts


def markdown(started: dt.datetime, counts: list[PathCount], *, requests: int, warmup: int) -> str:
    by_path = {c.path: c for c in counts}
    floor = by_path.get("floor")
    bare = by_path.get("bare")
    lines = [
        f"### Instructions per webhook: {started:%Y-%m-%d %H:%M} UTC",
        "",
        f'- Command: `make bench BENCH_ARGS="--suite instructions"` ({requests:,} '
        f"requests per path, {warmup:,} warm-up requests each, 32 in flight, each path "
        "(failure with duplicate) in a fresh process; "
        f"{_valgrind_version()}, Python {sys.version.split()[0]}, `PYTHONHASHSEED=0`).",
        "- In-process: the ASGI app called directly (uvicorn and httptools not included), "
        "SQLite state in a temporary directory, JSON log lines to a file.",
        "",
        "| path | instructions per request | minus the driver | ratio to bare (net) "
        "| requests per commit |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for count in counts:
        net = count.per_request - (floor.per_request if floor else 0.0)
        bare_net = (bare.per_request - floor.per_request) if bare and floor else None
        ratio = f"{net / bare_net:.2f}" if bare_net and count.path != "floor" else ""
        per_commit = f"{count.requests / count.commits:.1f}" if count.commits else ""
        lines.append(
            f"| {LABELS.get(count.path, count.path)} | {count.per_request:,.0f} "
            f"| {net:,.0f} | {ratio} | {per_commit} |"
        )
    return "\n".join(lines) + "\n"


def _valgrind_version() -> str:
    done = subprocess.run(
        [valgrind_binary(), "--version"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()
