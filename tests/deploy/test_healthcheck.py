"""The image's HEALTHCHECK script: which process it reads, which URL it probes, its verdict."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.deploy.manifests import HEALTHCHECK, load_script
from tests.serving import free_port

healthcheck = load_script(HEALTHCHECK)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # The image's ENTRYPOINT + CMD, as the console script runs it.
        (
            ["/opt/venv/bin/python", "/opt/venv/bin/failwatch", "serve", "--port", "8000"],
            ["--port", "8000"],
        ),
        # `python -m receiver serve`, the other documented way to start it.
        (["python3", "-m", "receiver", "serve", "--port=9000"], ["--port=9000"]),
        # serve with no options at all.
        (["/usr/local/bin/failwatch", "serve"], []),
        # Another failwatch command is not the server.
        (["/opt/venv/bin/failwatch", "outbox", "list"], None),
        # A process that merely has a `serve` argument is not failwatch.
        (["/usr/bin/python3", "-m", "http.server", "serve"], None),
        # The health check itself.
        (["python", "/opt/failwatch/healthcheck.py"], None),
        # `serve` as the program name, with nothing before it.
        (["serve", "--port", "1"], None),
    ],
)
def test_serve_arguments_come_from_failwatch_serve_only(
    argv: list[str], expected: list[str] | None
) -> None:
    assert healthcheck.serve_arguments(argv) == expected


@pytest.mark.parametrize(
    ("arguments", "url"),
    [
        # serve's defaults: 127.0.0.1:8000.
        ([], "http://127.0.0.1:8000/healthz"),
        # The image's CMD: every interface, probed on loopback.
        (["--host", "0.0.0.0", "--port", "8000"], "http://127.0.0.1:8000/healthz"),  # noqa: S104
        # Another port, in either spelling.
        (["--port", "9000"], "http://127.0.0.1:9000/healthz"),
        (["--port=9001"], "http://127.0.0.1:9001/healthz"),
        # IPv6 wildcard → IPv6 loopback, bracketed.
        (["--host", "::", "--port", "8000"], "http://[::1]:8000/healthz"),
        # A specific address is probed as given.
        (["--host", "10.1.2.3"], "http://10.1.2.3:8000/healthz"),
        # serve's other options don't disturb the reading.
        (["--config", "/etc/failwatch.yaml", "--port", "7000"], "http://127.0.0.1:7000/healthz"),
    ],
)
def test_probe_url_follows_serves_host_and_port(arguments: list[str], url: str) -> None:
    assert healthcheck.probe_url(arguments) == url


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet in test output
        pass


@pytest.fixture
def health_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def fake_proc(root: Path, *command_lines: list[str]) -> Path:
    """A /proc with one numbered entry per command line (NUL-separated, as the kernel)."""
    proc = root / "proc"
    (proc / "self").mkdir(parents=True)  # non-numeric entries are not processes
    for pid, argv in enumerate(command_lines, start=1):
        (proc / str(pid)).mkdir()
        (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return proc


def serve_command(port: int) -> list[str]:
    return ["/opt/venv/bin/python", "/opt/venv/bin/failwatch", "serve", "--port", str(port)]


def test_healthy_when_serve_answers_on_its_own_port(
    health_server: HTTPServer, tmp_path: Path
) -> None:
    port = health_server.server_address[1]
    proc = fake_proc(tmp_path, ["/sbin/init"], serve_command(port))
    assert healthcheck.main(proc=proc) == 0


def test_unhealthy_when_healthz_is_not_2xx(
    health_server: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Health, "status", 503)
    proc = fake_proc(tmp_path, serve_command(health_server.server_address[1]))
    assert healthcheck.main(proc=proc) == 1


def test_unhealthy_when_nothing_listens_on_serves_port(tmp_path: Path) -> None:
    assert healthcheck.main(proc=fake_proc(tmp_path, serve_command(free_port()))) == 1


def test_unhealthy_without_a_serve_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert healthcheck.main(proc=fake_proc(tmp_path, ["/sbin/init"])) == 1
    assert capsys.readouterr().err == "unhealthy: no `failwatch serve` process is running\n"
