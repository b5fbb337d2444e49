"""`failwatch serve` against hostile connections (issue 13): a huge header, sockets that
never speak, headers and bodies sent a byte at a time, and more sockets than descriptors.
Each is bounded; `/healthz` keeps answering and memory stays flat.

Timeouts are set to one second here so the tests are quick; every wait on the server is
for an event (a close, an answer) with a generous deadline, never a fixed sleep.
"""

from __future__ import annotations

import re
import resource
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.payloads import SECRET, WEBHOOK, failed_insert
from tests.serving import Server, clean_environment, free_port, running, running_serve

pytestmark = pytest.mark.acceptance

FAST = {
    "FAILWATCH_WEBHOOK_SECRET": SECRET,
    "FAILWATCH_HTTP__IDLE_TIMEOUT": "1s",
    "FAILWATCH_HTTP__HEADER_TIMEOUT": "1s",
    "FAILWATCH_HTTP__BODY_TIMEOUT": "1s",
}
DEADLINE = 30.0  # for a one-second timeout, on two busy cores


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


@contextmanager
def _socket(server: Server) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=DEADLINE) as sock:
        yield sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or resets it)."""
    received = b""
    sock.settimeout(DEADLINE)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def _rss_kib(server: Server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def _closed_by(server: Server, reason: str) -> float:
    return server.metric("failwatch_connections_closed_total", reason=reason)


def _healthy(server: Server) -> bool:
    try:
        return httpx.get(f"{server.url}/healthz", timeout=5.0, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def test_a_huge_header_is_431_and_memory_stays_flat(tmp_path: Path) -> None:
    with running_serve(tmp_path, **FAST) as server, _socket(server) as sock:
        before = _rss_kib(server)
        sock.sendall(b"POST /webhooks/supabase HTTP/1.1\r\nhost: x\r\nx-filler: ")
        sent = 0
        chunk = b"a" * 65536
        try:
            while sent < 64 * 2**20:  # 64 MiB of one header value
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: what a bound looks like from here
        answer = _read_until_closed(sock)
        after = _rss_kib(server)
        assert _healthy(server)
        assert _closed_by(server, "header_too_large") == 1

    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    # Unbounded, the process held every byte of the header (RSS +64 MiB and more).
    assert after - before < 16 * 1024, (before, after)


def test_headers_a_byte_at_a_time_get_408(tmp_path: Path) -> None:
    with running_serve(tmp_path, **FAST) as server, _socket(server) as sock:
        sock.sendall(b"POST /webhooks/supabase HTTP/1.1\r\nhost: x\r\nx-slow: ")
        answer = _read_until_closed(sock)
        assert _closed_by(server, "header_timeout") == 1
    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_body_a_byte_at_a_time_is_cut_off_and_nothing_is_stored(tmp_path: Path) -> None:
    body = failed_insert(id="slow-body")
    with running_serve(tmp_path, **FAST) as server, _socket(server) as sock:
        head = (
            f"POST {WEBHOOK} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"x-supabase-webhook-source: {SECRET}\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:10])
        answer = _read_until_closed(sock)
        assert _closed_by(server, "body_timeout") == 1
        stored = httpx.post(
            f"{server.url}{WEBHOOK}",
            content=body,
            headers={"x-supabase-webhook-source": SECRET, "content-type": "application/json"},
            timeout=10.0,
            trust_env=False,
        )
    assert b"202" not in answer
    # The same failure sent whole afterwards is new: the cut-off one was not stored.
    assert stored.json() == {"status": "accepted"}


def test_silent_connections_are_closed(tmp_path: Path) -> None:
    with running_serve(tmp_path, **FAST) as server, ExitStack() as stack:
        silent = [stack.enter_context(_socket(server)) for _ in range(50)]
        assert [_read_until_closed(sock) for sock in silent] == [b""] * 50
        assert _closed_by(server, "idle_timeout") >= 50


def test_more_sockets_than_descriptors_do_not_take_healthz_down(tmp_path: Path) -> None:
    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    port = free_port()
    argv = [sys.executable, "-m", "receiver", "serve", "--port", str(port)]
    env = clean_environment(FAILWATCH_STATE_URL=f"sqlite:///{tmp_path / 'fw.db'}", **FAST)
    with (
        running(
            argv,
            env=env,
            cwd=tmp_path,
            port=port,
            log_path=tmp_path / "serve.log",
            preexec_fn=few_descriptors,
        ) as server,
        ExitStack() as stack,
    ):
        server.wait_ready()
        # More idle sockets than the process has descriptors: those beyond the cap are
        # closed at once, the others when their idle timeout ends.
        flood = [stack.enter_context(_socket(server)) for _ in range(300)]
        deadline = time.monotonic() + DEADLINE
        while not _healthy(server):
            assert time.monotonic() < deadline, "healthz did not recover"
            time.sleep(0.2)
        assert _closed_by(server, "too_many_connections") > 0
        assert [_read_until_closed(sock) for sock in flood] == [b""] * 300
        assert server.process.poll() is None
