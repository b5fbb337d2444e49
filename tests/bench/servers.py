"""The servers under load: started as real processes, watched through /proc, stopped
with SIGTERM (the way a container runtime stops them)."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from prometheus_client.parser import text_string_to_metric_families

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


def free_ports(count: int) -> list[int]:
    """Ports free right now, all different (the sockets stay bound until all are chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


class Server:
    """One server process listening on 127.0.0.1:<port>, its output in `log_path`."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        # `python -m` imports from its working directory first: another checkout's code.
        self._cwd = cwd
        self.port = port
        self.log_path = log_path
        self._args = [sys.executable, *args]
        # Like the tests: a developer's own FAILWATCH_* settings must not leak in.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("FAILWATCH_")}
        self._env = {**inherited, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> Server:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self._args, env=self._env, cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_listening()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> int | None:
        """SIGTERM, then wait for a graceful exit (SIGKILL only if it never comes)."""
        process = self._process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"{self.name} ignored SIGTERM for {STOP_TIMEOUT:.0f}s") from None

    def _wait_until_listening(self) -> None:
        # uvicorn binds only after the lifespan start-up (migrations included) succeeded.
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._process.returncode} while starting; "
                    f"see {self.log_path}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen within {READY_TIMEOUT:.0f}s")

    def status_kib(self, field: str) -> int:
        """A `/proc/<pid>/status` memory field (VmHWM, VmRSS) in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0])
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        seconds = process_cpu_seconds(self.pid)
        if seconds is None:
            raise RuntimeError(f"{self.name} is gone")
        return seconds


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of any process on this machine; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    # After the command name: state is field 3, utime 14, stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def counter_values(metrics_url: str, name: str, label: str) -> dict[str, float]:
    """`{label value: count}` of one Prometheus counter, read from a /metrics page."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:  # noqa: S310 (loopback)
        text = response.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_total":
                values[sample.labels[label]] = sample.value
    return values


def fraction_within(metrics_url: str, name: str, *, route: str, seconds: float) -> float | None:
    """The share of a route's requests that a Prometheus histogram put at ≤ `seconds`
    (which must be one of its bucket bounds); None if the route has no requests."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:  # noqa: S310 (loopback)
        text = response.read().decode()
    within, total = None, None
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name != f"{name}_bucket" or sample.labels.get("route") != route:
                continue
            bound = float(sample.labels["le"])
            if bound == seconds:
                within = sample.value
            elif math.isinf(bound):
                total = sample.value
    if within is None or not total:
        return None
    return within / total


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (all cores), from /proc/stat."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
