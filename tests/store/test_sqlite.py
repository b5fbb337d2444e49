"""The state store port, on the SQLite adapter: idempotency, durability, failure modes."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import closing
from functools import partial
from pathlib import Path

import pytest

from receiver.errors import ConfigError, StoreUnavailable
from receiver.intake.pipeline import process_webhook
from receiver.model import Failure
from receiver.store import open_store, sqlite_path
from receiver.store.migrations import migrations
from receiver.store.sqlite import SQLiteStore
from receiver.store.sqlite_conn import Writer
from tests.payloads import failed_insert

pytestmark = pytest.mark.anyio


def failure(generation_id: str = "g1", **columns: object) -> Failure:
    result = process_webhook(failed_insert(id=generation_id, **columns))
    assert isinstance(result, Failure)
    return result


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(str(tmp_path / "failwatch.db"))
    await opened.open()
    yield opened
    await opened.close()


async def test_a_failure_is_new_once_then_a_duplicate(store: SQLiteStore) -> None:
    assert await store.record_failure(failure(), received_at=1.0) is True
    assert await store.record_failure(failure(), received_at=2.0) is False
    assert await store.count_failures() == 1


async def test_concurrent_duplicates_are_stored_once_each(store: SQLiteStore) -> None:
    # 250 distinct failures, each delivered twice, all at once and in no particular order:
    # they share group commits, so duplicates can land in the same transaction.
    failures = [failure(f"g{n}") for n in range(250)] * 2
    random.Random(7).shuffle(failures)
    results = await asyncio.gather(
        *(store.record_failure(f, received_at=float(n)) for n, f in enumerate(failures))
    )
    new_per_key: dict[str, int] = {}
    for stored, result in zip(failures, results, strict=True):
        new_per_key[stored.idempotency_key] = new_per_key.get(stored.idempotency_key, 0) + result
    assert len(new_per_key) == 250
    assert set(new_per_key.values()) == {1}  # exactly one "new" per key, the other "duplicate"
    assert results.count(True) == 250
    assert await store.count_failures() == 250


async def test_what_is_stored_is_the_failure(tmp_path: Path, store: SQLiteStore) -> None:
    stored = failure(model_id="flüx-プロ")
    await store.record_failure(stored, received_at=1714564831.5)
    with closing(sqlite3.connect(tmp_path / "failwatch.db")) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM failures").fetchone()
    assert row["idempotency_key"] == stored.idempotency_key
    assert row["generation_id"] == stored.generation_id
    assert (row["kind"], row["source"]) == ("failed", "webhook")
    assert (row["category"], row["fingerprint"]) == (stored.category, stored.fingerprint)
    assert (row["message"], row["error_type"]) == (stored.message, stored.error_type)
    assert (row["model_id"], row["user_id"]) == ("flüx-プロ", stored.user_id)
    assert (row["session_id"], row["occurred_at"]) == (stored.session_id, stored.occurred_at)
    assert json.loads(row["labels"]) == dict(stored.labels)
    assert row["received_at"] == 1714564831.5


async def test_rows_survive_a_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "failwatch.db")
    first = SQLiteStore(path)
    await first.open()
    await first.record_failure(failure("g1"), received_at=1.0)
    await first.record_failure(failure("g2"), received_at=1.0)
    await first.close()

    second = SQLiteStore(path)
    await second.open()
    try:
        assert await second.count_failures() == 2
        # Idempotency outlives the process: a late duplicate is still recognised.
        assert await second.record_failure(failure("g1"), received_at=2.0) is False
        assert await second.record_failure(failure("g3"), received_at=2.0) is True
    finally:
        await second.close()


async def test_migrations_run_once_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = str(tmp_path / "failwatch.db")
    for _ in range(2):
        opened = SQLiteStore(path)
        await opened.open()
        await opened.close()
    with closing(sqlite3.connect(path)) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    shipped = [m.version for m in migrations("sqlite")]
    assert len(shipped) >= 2
    assert versions == shipped
    assert mode == "wal"


async def test_close_finishes_what_was_accepted(tmp_path: Path) -> None:
    path = str(tmp_path / "failwatch.db")
    opened = SQLiteStore(path)
    await opened.open()
    pending = [
        asyncio.create_task(opened.record_failure(failure(f"g{n}"), received_at=1.0))
        for n in range(50)
    ]
    await asyncio.sleep(0)  # let every task queue its write
    await opened.close()
    assert await asyncio.gather(*pending) == [True] * 50
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM failures").fetchone()[0] == 50


async def test_a_closed_store_is_unavailable(store: SQLiteStore) -> None:
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.record_failure(failure(), received_at=1.0)
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.count_failures()


async def test_a_store_never_opened_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable):
        await SQLiteStore(str(tmp_path / "x.db")).record_failure(failure(), received_at=1.0)


async def test_a_file_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    unopenable = SQLiteStore(str(tmp_path / "missing-dir" / "failwatch.db"))
    with pytest.raises(StoreUnavailable, match=r"state directory .*/missing-dir does not exist"):
        await unopenable.open()
    await unopenable.close()


async def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "failwatch.db"
    path.write_bytes(b"this is not SQLite, it is a text file " * 200)
    broken = SQLiteStore(str(path))
    with pytest.raises(StoreUnavailable, match="is not a usable SQLite database"):
        await broken.open()
    await broken.close()


async def test_a_failed_open_leaves_no_writer_thread(tmp_path: Path) -> None:
    """Here the file opens but its schema can't be brought up to date (someone else's
    table of the same name), so the writer thread is already running when open fails."""
    path = tmp_path / "failwatch.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE failures (someone_elses INTEGER)")
        conn.commit()
    foreign = SQLiteStore(str(path))
    with pytest.raises(StoreUnavailable, match=f"cannot open the SQLite state {path}: "):
        await foreign.open()
    writers = [t for t in threading.enumerate() if t.name == "failwatch-sqlite-writer"]
    assert writers == []


async def test_one_bad_write_does_not_take_its_batch_down(tmp_path: Path) -> None:
    writer = Writer(str(tmp_path / "w.db"))
    writer.start()
    try:
        await writer.submit(lambda conn: conn.execute("CREATE TABLE t (n INTEGER UNIQUE)"))
        # Hold the writer thread until every job is queued, so they share one transaction.
        gate = threading.Event()
        held = asyncio.ensure_future(writer.submit(lambda conn: gate.wait(30)))
        jobs = [
            *(writer.submit(partial(insert, n=n)) for n in range(20)),
            # A statement that fails inside the shared transaction.
            writer.submit(lambda conn: conn.execute("INSERT INTO nope VALUES (1)").rowcount),
            *(writer.submit(partial(insert, n=n)) for n in range(20, 40)),
        ]
        queued = asyncio.gather(*jobs, return_exceptions=True)
        await asyncio.sleep(0.05)
        gate.set()
        results = await queued
        assert await held is True
        count = await writer.submit(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone())
    finally:
        writer.stop()
    assert results[:20] == [1] * 20
    assert isinstance(results[20], StoreUnavailable)
    assert results[21:] == [1] * 20
    assert count == (40,)


def insert(conn: sqlite3.Connection, *, n: int) -> int:
    return conn.execute("INSERT INTO t (n) VALUES (?)", (n,)).rowcount


@pytest.mark.parametrize(
    ("url", "path"),
    [
        # The embedded default, relative to the working directory.
        pytest.param("sqlite:///./failwatch.db", "./failwatch.db", id="relative"),
        # An absolute path takes four slashes.
        pytest.param(
            "sqlite:////var/lib/failwatch/state.db", "/var/lib/failwatch/state.db", id="abs"
        ),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert sqlite_path(url) == path


def test_an_unknown_state_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="FAILWATCH_STATE_URL"):
        open_store("redis://localhost/0")
