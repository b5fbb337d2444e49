"""`GET /api/admin/failure-stats`: the guide's `get_failure_stats` and its error categories."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from receiver.intake.classify_rules import DEFAULT_CLASSIFIER
from receiver.intake.ingest import error_details
from receiver.web.app import create_app
from tests.api import guide_sql
from tests.api.seed import Seeded
from tests.api.support import admin_headers, api_settings
from tests.asgi import serving

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

URL = "/api/admin/failure-stats"


@pytest.fixture(scope="module")
def guide_function(source: Seeded) -> Seeded:
    """The guide's function (repaired for timestamptz) and view, in the seeded database."""
    with psycopg.connect(source.dsn, autocommit=True) as conn:
        conn.execute(guide_sql.FUNCTION_GET_FAILURE_STATS_REPAIRED)
        conn.execute(guide_sql.VIEW_FAILED_GENERATIONS)
    return source


async def _rows(dsn: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
        return list(await (await conn.execute(query, params)).fetchall())


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("hours", [1, 24, 168, 720])
async def test_per_model_stats_equal_get_failure_stats(
    guide_function: Seeded, tmp_path: Path, hours: int
) -> None:
    async with serving(create_app(api_settings(tmp_path, guide_function))) as client:
        response = await client.get(URL, params={"hoursBack": hours}, headers=admin_headers())
    guide = await _rows(guide_function.dsn, "SELECT * FROM get_failure_stats(%s)", (hours,))
    assert response.status_code == 200, response.text
    body = response.json()
    got = [
        (m["modelId"], m["failureCount"], m["affectedUsers"], _stamp(m["latestFailure"]))
        for m in body["models"]
    ]
    want = [
        (
            row["model_id"],
            row["failure_count"],
            row["affected_users"],
            row["latest_failure"],
        )
        for row in guide
    ]
    assert guide  # every window here has failures
    # Same rows; the guide leaves the order of equal counts open, the API does not.
    assert sorted(got, key=repr) == sorted(want, key=repr)
    counts = [m["failureCount"] for m in body["models"]]
    assert counts == sorted(counts, reverse=True)
    assert body["total"] == sum(row["failure_count"] for row in guide)
    assert body["hoursBack"] == hours


async def test_seven_days_equal_the_guides_count_by_model(
    guide_function: Seeded, tmp_path: Path
) -> None:
    async with serving(create_app(api_settings(tmp_path, guide_function))) as client:
        response = await client.get(URL, params={"hoursBack": 168}, headers=admin_headers())
    guide = await _rows(guide_function.dsn, guide_sql.Q4_COUNT_BY_MODEL_7D)
    got = {(m["modelId"], m["failureCount"], m["affectedUsers"]) for m in response.json()["models"]}
    assert got == {(r["model_id"], r["failure_count"], r["affected_users"]) for r in guide}


@pytest.mark.parametrize("hours", [24, 720])
async def test_categories_classify_the_guides_failed_rows(
    guide_function: Seeded, tmp_path: Path, hours: int
) -> None:
    async with serving(create_app(api_settings(tmp_path, guide_function))) as client:
        response = await client.get(URL, params={"hoursBack": hours}, headers=admin_headers())
    failed = await _rows(guide_function.dsn, guide_sql.within(guide_sql.Q1_FAILED_24H, hours))
    expected: dict[str, dict[str, Any]] = {}
    per_model: dict[str | None, dict[str, int]] = {}
    for row in failed:
        record = {
            "parameters": {"error": row["error_message"], "errorContext": row["error_context"]}
        }
        category = DEFAULT_CLASSIFIER.classify(error_details(record)).category
        tally = expected.setdefault(category, {"failures": 0, "users": set(), "latest": None})
        tally["failures"] += 1
        if row["user_id"] is not None:
            tally["users"].add(row["user_id"])
        tally["latest"] = max(filter(None, [tally["latest"], row["created_at"]]))
        model = per_model.setdefault(row["model_id"], {})
        model[category] = model.get(category, 0) + 1
    body = response.json()
    got = {
        c["category"]: (c["failureCount"], c["affectedUsers"], _stamp(c["latestFailure"]))
        for c in body["categories"]
    }
    want = {
        name: (tally["failures"], len(tally["users"]), tally["latest"])
        for name, tally in expected.items()
    }
    assert got == want
    assert {"rate_limit", "timeout", "model_error", "unknown"} <= set(got)
    assert {m["modelId"]: m["categories"] for m in body["models"]} == per_model


@pytest.mark.parametrize("hours", [24, 720])
async def test_rate_limit_count_equals_the_guides_rate_limit_query(
    guide_function: Seeded, tmp_path: Path, hours: int
) -> None:
    async with serving(create_app(api_settings(tmp_path, guide_function))) as client:
        response = await client.get(URL, params={"hoursBack": hours}, headers=admin_headers())
    now = (await _rows(guide_function.dsn, "SELECT now() AS now"))[0]["now"]
    guide = await _rows(guide_function.dsn, guide_sql.RATE_LIMIT_ERRORS)
    in_window = [row for row in guide if (now - row["created_at"]).total_seconds() < hours * 3600]
    rate_limit = [c for c in response.json()["categories"] if c["category"] == "rate_limit"]
    assert in_window
    assert rate_limit[0]["failureCount"] == len(in_window)
    assert rate_limit[0]["affectedUsers"] == len({row["user_id"] for row in in_window} - {None})


async def test_bad_hours_back_is_400(guide_function: Seeded, tmp_path: Path) -> None:
    async with serving(create_app(api_settings(tmp_path, guide_function))) as client:
        zero = await client.get(URL, params={"hoursBack": 0}, headers=admin_headers())
        text = await client.get(URL, params={"hoursBack": "week"}, headers=admin_headers())
    assert (zero.status_code, zero.json()["parameter"]) == (400, "hoursBack")
    assert (text.status_code, text.json()["parameter"]) == (400, "hoursBack")
