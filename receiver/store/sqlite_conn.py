"""SQLite plumbing: one writer thread that commits in groups, and pooled readers.

Concurrent webhooks must not each pay for an fsync'd commit (≈6k rows/s on these
machines), so writes are queued to one thread that runs whatever is waiting in a single
transaction (group commit: ≈30k rows/s at 8 rows per commit). If a batch fails, each job
is retried alone, so one bad job never takes the others down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from receiver.errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger("failwatch.store")

MAX_BATCH = 256


def connect(path: str, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, durable."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    # Freed pages can be given back to the file system a few at a time (the pruner does);
    # this takes effect on a new file, `incremental_vacuum_on` switches an old one.
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is fsync'd at every commit, so a 202 survives a power cut.
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


@dataclass(slots=True)
class _Job:
    work: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _settle(jobs: list[_Job], results: list[Any] | None, error: BaseException | None) -> None:
    """Hand the outcome of `jobs` to their event loops: one wake-up per loop and batch,
    not one per job (each `call_soon_threadsafe` writes to the loop's wake-up pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any]]] = {}
    for i, job in enumerate(jobs):
        by_loop.setdefault(job.loop, []).append((job, results[i] if results else None))
    for loop, settled in by_loop.items():
        # A closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_apply, settled, error)


def _apply(settled: list[tuple[_Job, Any]], error: BaseException | None) -> None:
    for job, result in settled:
        if job.future.done():  # the caller went away (client disconnected); the work stands
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)


def _unavailable(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        error = StoreUnavailable(f"sqlite: {exc}")
        error.__cause__ = exc
        return error
    return exc


class Writer:
    """The only thread that writes to the database file."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="failwatch-sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise _unavailable(self._start_error)

    def stop(self) -> None:
        """Run every job already queued, then close."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    async def submit(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(conn)` inside a write transaction; return once it is committed."""
        if not self._thread.is_alive():
            raise StoreUnavailable("the state store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(work, future, loop))
        return await future

    def _run(self) -> None:
        try:
            self._conn = connect(self._path)
        except BaseException as exc:  # reported to start()
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    break
                batch, stop = self._drain(job)
                self._commit(batch)
                if stop:
                    break
        finally:
            self._conn.close()

    def _drain(self, first: _Job) -> tuple[list[_Job], bool]:
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return batch, False
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _commit(self, batch: list[_Job]) -> None:
        assert self._conn is not None
        try:
            results = self._transaction([job.work for job in batch])
        except BaseException as exc:
            if len(batch) == 1:
                _settle(batch, None, _unavailable(exc))
                return
            for job in batch:
                self._commit([job])
            return
        _settle(batch, results, None)

    def _transaction(self, works: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [work(conn) for work in works]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results


class Readers:
    """A small pool of threads, each with its own read connection (WAL lets them
    read while the writer commits)."""

    def __init__(self, path: str, *, size: int = 2) -> None:
        self._path = path
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="failwatch-sqlite-r")
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: work(self._conn()))
        except RuntimeError as exc:  # the pool was shut down
            raise StoreUnavailable("the state store is closed") from exc
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def incremental_vacuum_on(path: str) -> bool:
    """Switch a file made before retention existed to incremental vacuum: a VACUUM
    rewrites it once (at start, before anything else uses it). True if it did."""
    conn = connect(path)
    try:
        mode = conn.execute("PRAGMA auto_vacuum").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if mode == 2 or tables == 0:  # 2: incremental already; an empty file takes it as is
            return False
        log.info("switching the state file to incremental vacuum (one rewrite)")
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
        return True
    finally:
        conn.close()


def incremental_vacuum(path: str, pages: int) -> int:
    """Free up to `pages` pages, on a connection of its own: the pragma cannot run inside
    the writer's batched transactions, and holds the write lock only for a moment (the
    writer waits for it under its busy timeout). Returns how many pages it freed."""
    conn = connect(path)
    try:
        before = conn.execute("PRAGMA freelist_count").fetchone()[0]
        # executescript steps the pragma to the end; execute() would free one page.
        conn.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
        after = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int(before - after)
    finally:
        conn.close()
