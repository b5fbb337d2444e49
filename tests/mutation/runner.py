"""Runs each mutant against its module's tests, each in a process of its own.

A worker is a private copy of the package and its tests in a temporary directory (the
working tree is never edited, so runs can go side by side). For each mutant the worker's
copy of the module is overwritten and pytest runs in a child forked from this process:
the child imports failwatch afresh, so a mutant of import-time code (a module-level
table, a regex cache, a schema hook) is really what the tests exercise. This process has
already imported the third-party libraries the tests load, so a child starts in a fraction
of a second instead of paying for pytest, hypothesis and pydantic each time.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.mutation.operators import Mutant

ROOT = Path(__file__).resolve().parents[2]
# What the tests read besides the package: their own files, the example and invalid
# configurations, the README (the configuration reference), pytest's settings.
_COPIED = ("receiver", "tests", "config", "pyproject.toml", "README.md")
_POLL = 0.01
_BASELINE_TIMEOUT = 600.0
_EXAMPLES = 30
# pytest's exit codes for its own faults (internal error, usage error, no tests): a
# broken set-up, not a mutant caught. 2 (interrupted: a test module failed to import) is
# how a mutant that breaks the import is caught.
_BROKEN = ("error 3", "error 4", "error 5")


@dataclass(frozen=True, slots=True)
class Outcome:
    mutant: Mutant
    # Its tests failed, timed out, or could not import it; otherwise it survived.
    killed: bool


class Worker:
    """One private copy of the tree; runs one mutant at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log = directory / "pytest.log"
        for name in _COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    directory / name,
                    ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"),
                )
            else:
                shutil.copy2(source, directory / name)

    def write(self, module: str, source: str) -> None:
        (self.directory / module).write_text(source, encoding="utf-8")

    def start(self, tests: Sequence[str], *, modules_to: Path | None = None) -> int:
        """Fork a child running pytest on `tests` in this copy; its pid. With
        `modules_to`, the child writes there the names of the modules it imported."""
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 3
            try:
                code = _run_pytest(self.directory, self.log, tests)
                if modules_to is not None:
                    modules_to.write_text("\n".join(sorted(sys.modules)), encoding="utf-8")
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        return pid


def _run_pytest(directory: Path, log: Path, tests: Sequence[str]) -> int:
    os.setpgid(0, 0)  # its own group, so a timeout kills whatever it started too
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.chdir(directory)
    sys.dont_write_bytecode = True  # two mutants of one size in one second share no .pyc
    for name in [n for n in sys.modules if n.split(".")[0] in ("receiver", "tests")]:
        del sys.modules[name]
    sys.path.insert(0, str(directory))
    import pytest
    from hypothesis import HealthCheck, settings

    # Fewer examples per property test: a mutant the tables miss is usually caught in the
    # first few. No deadline and no speed health check: on a busy machine those would
    # fail the unmutated code too, and count a mutant as caught that was not.
    settings.register_profile(
        "mutation",
        max_examples=_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("mutation")

    # The plugins' modules were imported before pytest could rewrite their asserts; that
    # warning (an error under the project's filterwarnings) is about them, not the tests.
    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", *quiet, *tests]))
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def wait(pid: int, timeout: float) -> str:
    """How the child ended: "passed", "failed", "error N", "signal N" or "timeout"."""
    deadline = time.monotonic() + timeout
    while (how := _poll(pid, deadline)) is None:
        time.sleep(_POLL)
    return how


def _poll(pid: int, deadline: float) -> str | None:
    """How the child ended, or None while it runs; past its deadline it is killed."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if not done:
        if time.monotonic() < deadline:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "timeout"
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    code = os.WEXITSTATUS(status)
    return {0: "passed", 1: "failed"}.get(code, f"error {code}")


@contextlib.contextmanager
def workers(count: int) -> Iterator[list[Worker]]:
    with tempfile.TemporaryDirectory(prefix="failwatch-mutation-") as scratch:
        made = []
        for i in range(count):
            directory = Path(scratch) / f"worker-{i}"
            directory.mkdir()
            made.append(Worker(directory))
        yield made


def warm_up(worker: Worker, tests: Sequence[str]) -> tuple[float, str]:
    """Run the tests on the worker's copy as it is (the baseline): how long it took and
    how it ended. Then import here the libraries that run loaded (not failwatch itself),
    so each forked child finds them loaded."""
    listing = worker.directory / "modules.txt"
    started = time.monotonic()
    pid = worker.start(tests, modules_to=listing)
    how = wait(pid, _BASELINE_TIMEOUT)
    seconds = time.monotonic() - started
    for name in listing.read_text(encoding="utf-8").split() if listing.exists() else []:
        if name.split(".")[0] in ("receiver", "tests", "__main__") or name in sys.modules:
            continue
        # A module that imports only inside a test run is left for the children to import.
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    return seconds, how


def run(
    pool: list[Worker],
    module: str,
    mutants: Sequence[Mutant],
    tests: Sequence[str],
    *,
    timeout: float,
) -> Iterator[Outcome]:
    """Each mutant's outcome, with at most one child per worker at a time."""
    pending = list(reversed(mutants))
    running: dict[int, tuple[Worker, Mutant, float]] = {}
    idle = list(pool)
    try:
        yield from _each_outcome(pending, running, idle, module, tests, timeout)
    finally:
        for pid in running:  # stopped early: no child outlives the run
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _each_outcome(
    pending: list[Mutant],
    running: dict[int, tuple[Worker, Mutant, float]],
    idle: list[Worker],
    module: str,
    tests: Sequence[str],
    timeout: float,
) -> Iterator[Outcome]:
    while pending or running:
        while pending and idle:
            worker, mutant = idle.pop(), pending.pop()
            worker.write(module, mutant.source)
            running[worker.start(tests)] = (worker, mutant, time.monotonic() + timeout)
        for pid, (worker, mutant, deadline) in list(running.items()):
            how = _poll(pid, deadline)
            if how is None:
                continue
            del running[pid]
            idle.append(worker)
            if how in _BROKEN:
                log = worker.log.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"pytest could not run ({how}) for {mutant.key}:\n{log[-3000:]}")
            yield Outcome(mutant, killed=how != "passed")
        time.sleep(_POLL)
