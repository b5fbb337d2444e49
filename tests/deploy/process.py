"""`failwatch serve` as a real child process: start it, wait until it is ready, stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT = 60.0  # generous: two cores, shared with other test runs


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))  # noqa: S104 - the image's command binds all interfaces
        port: int = sock.getsockname()[1]
        return port


_PROXIES = frozenset({"http_proxy", "https_proxy", "all_proxy"})


def clean_environment() -> dict[str, str]:
    """This process's environment without the developer's FAILWATCH_* settings, and
    without proxies (the servers under test are on the loopback interface)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FAILWATCH_") and k.lower() not in _PROXIES
    }


@dataclass(slots=True)
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, *, timeout: float = READY_TIMEOUT) -> None:
        """Poll `/readyz` until it answers 200; fail early if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"failwatch exited with {self.process.returncode} before it was ready:\n"
                    + self.log()
                )
            try:
                if (
                    httpx.get(f"{self.base_url}/readyz", timeout=2.0, trust_env=False).status_code
                    == 200
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"failwatch was not ready within {timeout} s:\n{self.log()}")

    def terminate(self, *, timeout: float) -> int:
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
) -> Iterator[Server]:
    """Start `argv`; whatever happens in the block, the process is gone afterwards."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
