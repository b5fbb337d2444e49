"""Snapshot files under tests/notifiers/snapshots/.

A test compares what it rendered with the stored file. After an intended change of a
rendering, regenerate them with `SNAPSHOT_UPDATE=1 make unit` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SNAPSHOT_UPDATE") == "1"


def assert_snapshot(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        with path.open("w", encoding="utf-8", newline="") as file:
            file.write(actual)
        return
    assert path.exists(), f"no snapshot {name}: run with SNAPSHOT_UPDATE=1 to create it"
    with path.open(encoding="utf-8", newline="") as file:
        expected = file.read()
    assert actual == expected, f"{name} differs from its snapshot (SNAPSHOT_UPDATE=1 to accept)"


def assert_json_snapshot(name: str, actual: Any) -> None:
    assert_snapshot(name, json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
