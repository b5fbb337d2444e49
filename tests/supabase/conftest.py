from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from receiver.supabase.apply import apply_setup
from tests.postgres import require_postgres, scratch_database
from tests.supabase.support import drop_role, load_guide_schema, unique_role


@dataclass(frozen=True)
class SourceDatabase:
    """A scratch database shaped like a Supabase project, and a unique reader role name
    (roles are cluster-wide, so each test gets its own and drops it)."""

    dsn: str
    reader_role: str

    def apply_setup(self) -> list[str]:
        lines: list[str] = []
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            apply_setup(conn, reader_role=self.reader_role, report=lines.append)
        return lines


@pytest.fixture
def source_db() -> Iterator[SourceDatabase]:
    """The guide's schema in a fresh database; no failwatch SQL yet."""
    require_postgres()
    role = unique_role()
    try:
        with scratch_database("fw_supa") as dsn:
            load_guide_schema(dsn)
            yield SourceDatabase(dsn, role)
    finally:
        # After the database is gone: the role then owns and holds nothing anywhere.
        drop_role(role)


@pytest.fixture
def set_up_db(source_db: SourceDatabase) -> SourceDatabase:
    """The guide's schema with failwatch's setup applied."""
    source_db.apply_setup()
    return source_db
