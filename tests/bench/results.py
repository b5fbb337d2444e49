"""Where each suite's results go: a markdown block on stdout and, with the raw numbers as
JSON, in bench-results/ (ignored by git)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

RESULTS_DIR = Path("bench-results")


def keep(suite: str, started: dt.datetime, text: str, raw: object) -> None:
    """Print `text` and keep it, and `raw`, as bench-results/<suite>-<time>.{md,json}."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"{suite}-{stamp}.json").write_text(json.dumps(raw, indent=2) + "\n")
    (RESULTS_DIR / f"{suite}-{stamp}.md").write_text(text)
    print()
    print(text, flush=True)
