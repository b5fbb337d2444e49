"""`failwatch store stats` and `failwatch store prune [--dry-run]` on a real state file."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from receiver.cli.main import main

DAY = 86400.0


def seed(path: Path, *, old: int, new: int) -> None:
    """A state file with `old` failures from 40 days ago and `new` ones from today,
    all of them already sorted into groups (the dispatch cursor is past them)."""
    assert main(["store", "stats"]) == 0  # creates and migrates the file
    now = time.time()
    with closing(sqlite3.connect(path)) as conn:
        rows = [
            (f"k{i}", f"g{i}", "failed", "webhook", "timeout", "fp", "m", "{}", t)
            for i, t in enumerate([now - 40 * DAY] * old + [now] * new)
        ]
        conn.executemany(
            "INSERT INTO failures (idempotency_key, generation_id, kind, source, category, "
            "fingerprint, message, labels, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("UPDATE dispatch_cursor SET last_seq = (SELECT max(seq) FROM failures)")
        conn.commit()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state.db"
    monkeypatch.setenv("FAILWATCH_STATE_URL", f"sqlite:///{path}")
    return path


def test_stats_prune_dry_run_and_prune(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(state, old=7, new=3)
    capsys.readouterr()
    assert main(["store", "stats"]) == 0
    tables = {t["table"]: t for t in map(json.loads, capsys.readouterr().out.splitlines())}
    assert tables["failures"]["rows"] == 10
    assert tables["failures"]["bytes"] > 0
    assert tables["failures"]["oldest"] is not None

    assert main(["store", "prune", "--dry-run"]) == 0
    assert "would delete 7 row(s) of failures" in capsys.readouterr().out
    assert main(["store", "prune"]) == 0
    assert "deleted 7 row(s) of failures" in capsys.readouterr().out
    assert main(["store", "prune"]) == 0
    assert "deleted 0 row(s) of failures" in capsys.readouterr().out


def test_retention_is_configurable(
    state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(state, old=2, new=0)
    monkeypatch.setenv("FAILWATCH_RETENTION__FAILURES", "60d")
    capsys.readouterr()
    assert main(["store", "prune", "--dry-run"]) == 0
    assert "would delete 0 row(s) of failures" in capsys.readouterr().out
