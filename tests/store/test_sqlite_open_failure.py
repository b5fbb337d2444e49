"""What an SQLite state that cannot be opened at start says: one line, naming what to fix."""

from __future__ import annotations

import pytest

from receiver.store.sqlite import open_failure_message

PATH = "/var/lib/failwatch/failwatch.db"
DIRECTORY = "/var/lib/failwatch"
FINE = {"directory_exists": True, "directory_writable": True, "corrupt": False}


@pytest.mark.parametrize(
    ("situation", "error", "expected"),
    [
        # The directory is missing: create it.
        (
            {**FINE, "directory_exists": False},
            "unable to open database file",
            "the state directory /var/lib/failwatch does not exist: create it, or point "
            "FAILWATCH_STATE_URL at another file",
        ),
        # A read-only root or a volume that is not mounted: the uid helps fix ownership.
        (
            {**FINE, "directory_writable": False},
            "unable to open database file",
            "the state directory /var/lib/failwatch is not writable (uid 10001): mount a "
            "writable volume there, or point FAILWATCH_STATE_URL at a writable directory",
        ),
        # An unwritable directory wins over a corrupt file: WAL needs the directory too.
        (
            {**FINE, "directory_writable": False, "corrupt": True},
            "file is not a database",
            "the state directory /var/lib/failwatch is not writable (uid 10001): mount a "
            "writable volume there, or point FAILWATCH_STATE_URL at a writable directory",
        ),
        # Not a database at all, or damaged pages: restore, or start afresh.
        (
            {**FINE, "corrupt": True},
            "file is not a database",
            "/var/lib/failwatch/failwatch.db is not a usable SQLite database (file is not a "
            "database): restore it from a backup, or move it and its -wal and -shm files "
            "aside to start with an empty state",
        ),
        # Anything else is named as SQLite said it.
        (
            FINE,
            "attempt to write a readonly database",
            "cannot open the SQLite state /var/lib/failwatch/failwatch.db: attempt to write "
            "a readonly database",
        ),
    ],
)
def test_open_failure_message(situation: dict[str, bool], error: str, expected: str) -> None:
    message = open_failure_message(PATH, DIRECTORY, error=error, uid=10001, **situation)
    assert message == expected
    assert "\n" not in message
