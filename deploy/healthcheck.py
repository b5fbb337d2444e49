"""The image's HEALTHCHECK: GET /healthz from `failwatch serve`, on the port it listens on.

The address comes from the serve process's own command line (`--host`, `--port`, with
serve's defaults), found under /proc, so `docker run IMAGE serve --port 9000` is checked on
9000 without a second setting to keep in step. A wildcard host (0.0.0.0, ::) is probed on
the loopback address of its family. Exit 0 when /healthz answers 2xx; 1 otherwise, with
one line on stderr saying why (the engine shows it in the health log).

Only the standard library: it runs with the image's Python, outside failwatch's own code.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"  # `failwatch serve`'s defaults
DEFAULT_PORT = 8000
TIMEOUT = 4.0  # seconds; the HEALTHCHECK's own --timeout is 5 s
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1", "[::]": "::1"}  # noqa: S104


def serve_arguments(argv: Sequence[str]) -> list[str] | None:
    """The arguments after `serve` when `argv` runs `failwatch serve` (as the console
    script or as `python -m receiver`); None for any other process."""
    for index, word in enumerate(argv):
        if word != "serve" or index == 0:
            continue
        runner = argv[:index]
        if Path(runner[-1]).name == "failwatch" or runner[-2:] == ["-m", "receiver"]:
            return list(argv[index + 1 :])
    return None


def probe_url(arguments: Sequence[str]) -> str:
    """The /healthz URL for serve's `--host` and `--port` (both optional)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    known, _ = parser.parse_known_args(list(arguments))
    host = _LOOPBACK.get(known.host, known.host).strip("[]")
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{known.port}/healthz"


def command_lines(proc: Path) -> Iterable[list[str]]:
    """Every readable process command line under `proc`."""
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if raw:
            yield raw.rstrip(b"\0").decode(errors="replace").split("\0")


def main(proc: Path = Path("/proc")) -> int:
    found = [args for argv in command_lines(proc) if (args := serve_arguments(argv)) is not None]
    if not found:
        print("unhealthy: no `failwatch serve` process is running", file=sys.stderr)
        return 1
    url = probe_url(found[0])
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 (http only)
            status = answer.status
    except OSError as exc:  # URLError, HTTPError (non-2xx), timeouts
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
