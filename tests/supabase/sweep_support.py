"""Building blocks for sweep tests: rows in the source database, a sweeper on a real
SQLite store."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from receiver.loops.sweep_state import StoreSweepState
from receiver.loops.sweeper import Sweeper, SweepOptions, SweepState
from receiver.metrics import Metrics
from receiver.store.sqlite import SQLiteStore
from receiver.supabase.pool import SourceDB


def insert_generation(
    conn: psycopg.Connection[Any],
    gid: str,
    status: str,
    *,
    created_ago: float = 60.0,
    updated_ago: float | None = None,
    parameters: dict[str, Any] | None = None,
    model_id: str = "flux-pro",
    user_id: str = "u1",
) -> None:
    """A generation created `created_ago` seconds ago (and last changed `updated_ago`)."""
    conn.execute(
        "INSERT INTO generations (id, status, model_id, user_id, prompt, parameters, "
        "created_at, updated_at) VALUES (%s, %s, %s, %s, 'a long prompt', %s, "
        "now() - make_interval(secs => %s), now() - make_interval(secs => %s))",
        (
            gid,
            status,
            model_id,
            user_id,
            Jsonb(parameters or {}),
            created_ago,
            created_ago if updated_ago is None else updated_ago,
        ),
    )


def error_parameters(message: str, *, timestamp: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"type": "ModelGenerationError", "message": message}
    if timestamp is not None:
        context["timestamp"] = timestamp
        context["stack"] = "Error: " + message + "\n    at generate (worker.js:1:1)" * 50
    return {"error": message, "errorContext": context, "seed": 42}


def fail_generation(conn: psycopg.Connection[Any], gid: str, message: str, **kw: Any) -> None:
    """What the app does when a generation fails: status, error, updated_at, one UPDATE."""
    conn.execute(
        "UPDATE generations SET status = 'failed', parameters = %s, updated_at = now() "
        "WHERE id = %s",
        (Jsonb(error_parameters(message, **kw)), gid),
    )


@dataclass
class SweepRig:
    sweeper: Sweeper
    store: SQLiteStore
    state: StoreSweepState
    metrics: Metrics
    source: SourceDB

    def counter(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@asynccontextmanager
async def sweep_rig(
    dsn: str,
    state_path: Path,
    *,
    source_timeout: float = 5.0,
    clock: Callable[[], float] = time.time,
    holder: str = "test-holder",
    wrap: Callable[[StoreSweepState], SweepState] | None = None,
    **options: Any,
) -> AsyncIterator[SweepRig]:
    store = SQLiteStore(str(state_path))
    await store.open()
    state = StoreSweepState(store)
    source = SourceDB(dsn, timeout=source_timeout)
    metrics = Metrics()
    sweeper = Sweeper(
        source=source,
        state=state if wrap is None else wrap(state),
        metrics=metrics,
        options=dataclasses.replace(SweepOptions(), **options),
        clock=clock,
        holder=holder,
    )
    try:
        yield SweepRig(sweeper, store, state, metrics, source)
    finally:
        await source.close()
        await store.close()
