"""Tests that run on every store: each runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import scratch_database


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    with scratch_database("fw_state") as dsn:
        yield dsn
