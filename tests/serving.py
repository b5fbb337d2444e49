"""`failwatch serve` (or any command) as a real child process: a free port, a clean
environment, start, wait until ready, stop. The one place tests run servers from."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT = 60.0  # two busy cores: imports alone can take seconds
STOP_TIMEOUT = 30.0
_PROXIES = frozenset({"http_proxy", "https_proxy", "all_proxy"})


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without the developer's FAILWATCH_* settings and
    without proxies (the servers under test are on loopback), plus `variables`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FAILWATCH_") and k.lower() not in _PROXIES
    }
    env.update(variables)
    return env


def wait_ready(
    url: str,
    *,
    exited: Callable[[], str | None],
    log: Callable[[], str],
    timeout: float = READY_TIMEOUT,
) -> None:
    """Poll `url`/readyz until it answers 200. `exited()` says why the server is gone (None
    while it runs), so a server that dies fails at once, with its `log()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = exited()
        if gone is not None:
            raise AssertionError(f"{gone} before it was ready:\n{log()}")
        try:
            ready = httpx.get(f"{url}/readyz", timeout=2.0, trust_env=False)
            if ready.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"failwatch was not ready within {timeout} s:\n{log()}")


@dataclass(slots=True)
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    db_path: Path  # where the SQLite state is, when the state is in SQLite

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The structured (JSON) lines of its log; anything else is a failure."""
        return [json.loads(line) for line in self.log().splitlines() if line.strip()]

    def metric(self, name: str, **labels: str) -> float:
        """One sample of `/metrics` (0 when it has not been counted yet)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10, trust_env=False).text
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line.split()[-1])
        return 0.0

    def wait_ready(self, *, timeout: float = READY_TIMEOUT) -> None:
        """Poll `/readyz` until it answers 200; fail early if the process dies."""

        def exited() -> str | None:
            code = self.process.poll()
            return None if code is None else f"failwatch exited with {code}"

        wait_ready(self.url, exited=exited, log=self.log, timeout=timeout)

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then the exit code (AssertionError if it outlives `timeout`)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"failwatch ignored SIGTERM for {timeout} s") from None


@contextmanager
def running(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    port: int,
    log_path: Path,
    db_path: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Server]:
    """Start `argv` (not waiting for it); whatever happens in the block, the process is
    gone afterwards. `preexec_fn` runs in the child first (e.g. to lower a limit)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
    state = db_path if db_path is not None else cwd / "failwatch.db"
    server = Server(process, f"http://127.0.0.1:{port}", log_path, state)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def running_serve(state_dir: Path, *args: str, **variables: str) -> Iterator[Server]:
    """`failwatch serve` on a free port with its SQLite state in `state_dir` (unless
    `FAILWATCH_STATE_URL` says otherwise), ready to answer."""
    port = free_port()
    db_path = state_dir / "failwatch.db"
    env = clean_environment(**{"FAILWATCH_STATE_URL": f"sqlite:///{db_path}", **variables})
    argv = [sys.executable, "-m", "receiver", "serve", "--port", str(port), *args]
    log_path = state_dir / "serve.log"
    with running(argv, env=env, cwd=state_dir, port=port, log_path=log_path, db_path=db_path) as s:
        s.wait_ready()
        yield s


def stored_generation_ids(db_path: Path) -> list[str]:
    with closing(sqlite3.connect(db_path)) as conn:
        return [row[0] for row in conn.execute("SELECT generation_id FROM failures ORDER BY seq")]
