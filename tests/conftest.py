from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.postgres import scratch_database

# The settings read FAILWATCH_* from the environment; tests must not inherit a
# developer's shell configuration.
for _name in [n for n in os.environ if n.startswith("FAILWATCH_")]:
    del os.environ[_name]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A fresh PostgreSQL database for this test."""
    with scratch_database() as dsn:
        yield dsn
