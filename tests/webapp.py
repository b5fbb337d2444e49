"""The app under test on a real SQLite file, and a way to count what it stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from receiver.config.settings import load_settings
from receiver.store.sqlite import SQLiteStore
from receiver.web.app import create_app
from tests.payloads import SECRET


def make_app(state_dir: Path, **overrides: Any) -> Starlette:
    """failwatch with its state in `state_dir/failwatch.db` and the test secret."""
    settings: dict[str, Any] = {
        "state_url": f"sqlite:///{state_dir / 'failwatch.db'}",
        "webhook_secret": SECRET,
    }
    settings.update(overrides)
    return create_app(load_settings(**settings))


async def stored_failures(state_dir: Path) -> int:
    """Rows in the state file, read through a store of its own (works after a close)."""
    store = SQLiteStore(str(state_dir / "failwatch.db"))
    await store.open()
    try:
        return await store.count_failures()
    finally:
        await store.close()
