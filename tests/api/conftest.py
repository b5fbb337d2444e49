from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.seed import Seeded, seed
from tests.postgres import scratch_database


@pytest.fixture(scope="module")
def source() -> Iterator[Seeded]:
    """The guide's tables with seeded rows, in a scratch database for this module."""
    with scratch_database("fw_api") as dsn:
        yield seed(dsn)
