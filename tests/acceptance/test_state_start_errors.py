"""`failwatch serve` on SQLite state it cannot use: one line on stderr, exit 1, no port.
(A missing directory: `test_serve.py`.)

Each case starts a real `failwatch serve` process. An unwritable directory is a 0555
directory; root ignores permission bits, so as root the process runs without
CAP_DAC_OVERRIDE (util-linux `setpriv`), which makes them apply to it as to anyone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from receiver.store.sqlite import SQLiteStore
from tests.serving import clean_environment, free_port

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(120)]


def serve(database: Path, *, privileged: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "receiver", "serve", "--port", str(free_port())]
    if not privileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without util-linux setpriv to drop CAP_DAC_OVERRIDE")
        argv = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *argv]
    env = clean_environment(
        FAILWATCH_STATE_URL=f"sqlite:///{database}", FAILWATCH_WEBHOOK_SECRET="start-errors"
    )
    return subprocess.run(
        argv, env=env, cwd=database.parent.parent, capture_output=True, text=True, timeout=60
    )


def test_an_unwritable_state_directory_is_one_line_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o555)
    done = serve(state / "failwatch.db", privileged=False)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"failwatch: the state directory {state} is not writable (uid {os.geteuid()}): mount "
        "a writable volume there, or point FAILWATCH_STATE_URL at a writable directory\n"
    )
    assert list(state.iterdir()) == []


def test_a_file_that_is_not_a_database_is_one_line_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    database = state / "failwatch.db"
    garbage = b"these bytes are not an SQLite database " * 200
    database.write_bytes(garbage)
    done = serve(database)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"failwatch: {database} is not a usable SQLite database (file is not a database): "
        "restore it from a backup, or move it and its -wal and -shm files aside to start "
        "with an empty state\n"
    )
    assert database.read_bytes() == garbage, "the file must be left as it was"


def test_a_database_with_damaged_pages_is_one_line_naming_it(tmp_path: Path) -> None:
    """A real failwatch file whose pages after the first are overwritten: the header
    still says SQLite, the tables it needs at start do not read."""
    state = tmp_path / "state"
    state.mkdir()
    database = state / "failwatch.db"
    asyncio.run(create_and_migrate(database))
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    data = bytearray(database.read_bytes())
    data[page_size:] = b"\xa5" * (len(data) - page_size)
    database.write_bytes(bytes(data))

    done = serve(database)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"failwatch: {database} is not a usable SQLite database (")
    assert done.stderr.count("\n") == 1


async def create_and_migrate(database: Path) -> None:
    store = SQLiteStore(str(database))
    await store.open()
    await store.close()
