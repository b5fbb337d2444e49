"""Run `failwatch serve` as a real process for acceptance tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_TIMEOUT = 60.0  # two busy cores: imports alone can take seconds
STOP_TIMEOUT = 30.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    stderr_path: Path
    db_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The structured (JSON) lines of its log; anything else is a failure."""
        lines = []
        for line in self.stderr().splitlines():
            if line.strip():
                lines.append(json.loads(line))
        return lines

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_env(state_dir: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAILWATCH_")}
    env["FAILWATCH_STATE_URL"] = f"sqlite:///{state_dir / 'failwatch.db'}"
    env.update(variables)
    return env


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"serve exited with {server.process.returncode}:\n{server.stderr()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2.0, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve was not ready within {STARTUP_TIMEOUT}s:\n{server.stderr()}")


@contextmanager
def running_serve(state_dir: Path, *args: str, **variables: str) -> Iterator[Server]:
    port = free_port()
    stderr_path = state_dir / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "receiver", "serve", "--port", str(port), *args],
            cwd=state_dir,
            env=serve_env(state_dir, **variables),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Server(process, f"http://127.0.0.1:{port}", stderr_path, state_dir / "failwatch.db")
    try:
        wait_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def stored_generation_ids(db_path: Path) -> list[str]:
    with closing(sqlite3.connect(db_path)) as conn:
        return [row[0] for row in conn.execute("SELECT generation_id FROM failures ORDER BY seq")]
