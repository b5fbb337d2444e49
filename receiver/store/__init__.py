"""State stores behind one port, chosen by `FAILWATCH_STATE_URL`."""

from __future__ import annotations

from receiver.errors import ConfigError
from receiver.store.base import Store

__all__ = ["Store", "open_store"]


def open_store(url: str, *, schema: str = "failwatch", pool_size: int = 8) -> Store:
    """A store for a `sqlite:///path` or `postgresql://…` URL (not yet opened)."""
    if url.startswith("sqlite://"):
        from receiver.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        from receiver.store.postgres import PostgresStore

        return PostgresStore(url, schema=schema, pool_size=pool_size)
    raise ConfigError("state_url (FAILWATCH_STATE_URL): expected sqlite:///path or postgresql://…")


def sqlite_path(url: str) -> str:
    """`sqlite:///./x.db` → `./x.db`, `sqlite:////abs/x.db` → `/abs/x.db`."""
    path = url.removeprefix("sqlite://").removeprefix("/")
    if not path:
        raise ConfigError("state_url (FAILWATCH_STATE_URL): sqlite URL has no path")
    return path
