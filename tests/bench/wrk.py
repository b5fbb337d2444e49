"""Running wrk and reading what its Lua `done()` hook printed."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "wrk is not installed. On Debian or Ubuntu: `sudo apt-get install wrk` "
    "(elsewhere: https://github.com/wg/wrk)."
)
_MARKER = "WRK_RESULT "


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(INSTALL_HINT)
    return found


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # CPU time wrk itself used (it shares the cores with the server).
    wrk_cpu_seconds: float
    output: str

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    threads: int,
    seconds: float,
) -> WrkResult:
    """One wrk run; `status` errors count answers ≥ 400, the others socket trouble."""
    args = [
        wrk_binary(),
        f"--connections={connections}",
        f"--threads={threads}",
        f"--duration={seconds:g}s",
        "--timeout=10s",
        "--latency",
        f"--script={script}",
        url,
    ]
    before = _children_cpu_seconds()
    completed = subprocess.run(
        args, capture_output=True, text=True, check=False, timeout=seconds + 120
    )
    cpu = _children_cpu_seconds() - before
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return _parse(completed.stdout, wrk_cpu_seconds=cpu)


def _parse(output: str, *, wrk_cpu_seconds: float) -> WrkResult:
    lines = [line for line in output.splitlines() if line.startswith(_MARKER)]
    if len(lines) != 1:
        raise RuntimeError(f"wrk printed no result line:\n{output}")
    data = json.loads(lines[0].removeprefix(_MARKER))
    latency = data["latency_us"]
    return WrkResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        errors={name: int(count) for name, count in data["errors"].items()},
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        wrk_cpu_seconds=wrk_cpu_seconds,
        output=output,
    )


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
