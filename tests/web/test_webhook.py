"""`POST /webhooks/supabase` through the ASGI app, one test per answer of the design."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from receiver.errors import StoreUnavailable
from receiver.web.context import Services
from tests.asgi import serving
from tests.payloads import (
    SECRET,
    WEBHOOK,
    auth,
    became_failed_update,
    failed_insert,
    generation,
    supabase_body,
)
from tests.webapp import make_app, stored_failures

pytestmark = pytest.mark.anyio


def services(app: Starlette) -> Services:
    found: Services = app.state.services
    return found


async def post(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(WEBHOOK, content=body, headers=auth() if headers is None else headers)


# --- 202 ----------------------------------------------------------------------------


async def test_a_failure_is_accepted_and_committed_before_the_answer(tmp_path: Path) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, failed_insert())
        assert (response.status_code, response.json()) == (202, {"status": "accepted"})
        # Read through another connection while the app still runs: the row is committed.
        assert await stored_failures(tmp_path) == 1


async def test_the_same_failure_twice_is_stored_once(tmp_path: Path) -> None:
    async with serving(make_app(tmp_path)) as client:
        first = await post(client, failed_insert())
        # The UPDATE that made the row failed reports the same failure.
        second = await post(client, became_failed_update())
    assert first.json() == {"status": "accepted"}
    assert (second.status_code, second.json()) == (202, {"status": "duplicate"})
    assert await stored_failures(tmp_path) == 1


async def test_another_error_of_the_same_generation_is_another_failure(tmp_path: Path) -> None:
    retried = generation()["parameters"] | {
        "errorContext": {"type": "RateLimitError", "timestamp": "2024-05-01T12:05:00Z"}
    }
    async with serving(make_app(tmp_path)) as client:
        await post(client, failed_insert())
        response = await post(client, failed_insert(parameters=retried))
    assert response.json() == {"status": "accepted"}
    assert await stored_failures(tmp_path) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # A generation that is still running.
        pytest.param(
            supabase_body("UPDATE", generation(status="processing"), generation(status="queued")),
            "not_failed",
            id="not-failed",
        ),
        # An update of a row that was already failed.
        pytest.param(
            supabase_body("UPDATE", generation(), generation()), "already_failed", id="already"
        ),
        # Deleting a failed row.
        pytest.param(supabase_body("DELETE", None, generation()), "delete", id="delete"),
        # A webhook on another table.
        pytest.param(
            supabase_body("INSERT", {"id": "p1", "status": "failed"}, table="profiles"),
            "other_table",
            id="other-table",
        ),
        # The right table name in another schema.
        pytest.param(
            supabase_body("INSERT", generation(), schema="archive"),
            "other_table",
            id="other-schema",
        ),
    ],
)
async def test_non_failures_are_ignored_with_a_reason(
    tmp_path: Path, body: bytes, reason: str
) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, body)
    assert (response.status_code, response.json()) == (202, {"status": "ignored", "reason": reason})
    assert await stored_failures(tmp_path) == 0


async def test_a_200_kib_row_is_accepted(tmp_path: Path) -> None:
    body = failed_insert(prompt="a misty forest, " * 12_800)
    assert 200 * 1024 < len(body) < 256 * 1024
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, body)
    assert response.json() == {"status": "accepted"}
    assert await stored_failures(tmp_path) == 1


async def test_lone_surrogates_are_stored_not_crashed_on(tmp_path: Path) -> None:
    body = (
        b'{"type": "INSERT", "table": "generations", "schema": "public", "record": '
        b'{"id": "g\\ud800", "status": "failed", "model_id": "m\\udfff", "\\ud800": "x\\udc00",'
        b' "parameters": "{\\"error\\": \\"bad \\\\ud800 text\\"}"}, "old_record": null}'
    )
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, body)
    assert (response.status_code, response.json()) == (202, {"status": "accepted"})
    assert await stored_failures(tmp_path) == 1


# --- 401 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        # The dashboard's custom-header helper.
        pytest.param({"x-supabase-webhook-source": SECRET}, id="supabase-header"),
        # A generic secret header.
        pytest.param({"x-webhook-secret": SECRET}, id="webhook-secret-header"),
        # The dashboard's Authorization helper.
        pytest.param({"authorization": f"Bearer {SECRET}"}, id="bearer"),
        # The scheme is case-insensitive.
        pytest.param({"authorization": f"bearer {SECRET}"}, id="bearer-lowercase"),
    ],
)
async def test_each_secret_header_is_accepted(tmp_path: Path, headers: dict[str, str]) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, failed_insert(), headers)
    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        # No credential at all.
        pytest.param({}, id="missing"),
        # A wrong secret.
        pytest.param({"x-supabase-webhook-source": "guess"}, id="wrong"),
        # The secret with a character missing.
        pytest.param({"x-webhook-secret": SECRET[:-1]}, id="prefix"),
        # The secret in the wrong case.
        pytest.param({"x-webhook-secret": SECRET.upper()}, id="case"),
        # An empty header.
        pytest.param({"x-supabase-webhook-source": ""}, id="empty"),
        # The secret as Basic credentials, not Bearer.
        pytest.param({"authorization": f"Basic {SECRET}"}, id="basic"),
        # "Bearer" and nothing after it.
        pytest.param({"authorization": "Bearer "}, id="bearer-empty"),
        # The secret under a header failwatch does not read.
        pytest.param({"x-api-key": SECRET}, id="other-header"),
        # Both rotation secrets glued together as one value.
        pytest.param({"x-webhook-secret": f"{SECRET},{SECRET}"}, id="list-as-value"),
    ],
)
async def test_bad_or_missing_secrets_are_refused_and_nothing_is_stored(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, failed_insert(), headers)
    assert (response.status_code, response.json()) == (401, {"error": "unauthorized"})
    assert await stored_failures(tmp_path) == 0


@pytest.mark.parametrize(
    "presented",
    [
        # The outgoing secret, still valid during the rotation.
        pytest.param("old-secret-1", id="old"),
        # The incoming secret.
        pytest.param("new-secret-2", id="new"),
    ],
)
async def test_both_secrets_work_during_a_rotation(tmp_path: Path, presented: str) -> None:
    app = make_app(tmp_path, webhook_secret="old-secret-1, new-secret-2")
    async with serving(app) as client:
        accepted = await post(client, failed_insert(), auth(presented))
        refused = await post(client, failed_insert(), auth("old-secret-1, new-secret-2"))
    assert (accepted.status_code, refused.status_code) == (202, 401)


async def test_without_a_secret_configured_webhooks_are_open(tmp_path: Path) -> None:
    # Only reachable with `serve --insecure-no-auth` (see the acceptance tests).
    async with serving(make_app(tmp_path, webhook_secret=None)) as client:
        response = await post(client, failed_insert(), {})
    assert response.status_code == 202


# --- 400 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # Form data from a misconfigured sender.
        pytest.param(b"type=INSERT&table=generations", id="form"),
        # An empty body.
        pytest.param(b"", id="empty"),
        # Not UTF-8.
        pytest.param(b'{"type": "\xc3\x28"}', id="bad-utf8"),
        # A body cut short.
        pytest.param(failed_insert()[:-1], id="truncated"),
        # An integer longer than Python converts.
        pytest.param(b'{"type": "INSERT", "n": ' + b"7" * 5000 + b"}", id="huge-int"),
    ],
)
async def test_a_body_that_is_not_json_is_a_400(tmp_path: Path, body: bytes) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, body)
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]
    assert await stored_failures(tmp_path) == 0


# --- 413 ----------------------------------------------------------------------------


def padded(body: bytes, size: int) -> bytes:
    """The body grown to exactly `size` bytes with trailing white space (still JSON)."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


async def test_a_body_over_the_default_limit_is_a_413(tmp_path: Path) -> None:
    async with serving(make_app(tmp_path)) as client:
        at_limit = await post(client, padded(failed_insert(), 256 * 1024))
        over = await post(client, padded(failed_insert(id="g-over"), 256 * 1024 + 1))
    assert at_limit.status_code == 202
    assert (over.status_code, over.json()) == (413, {"error": "body larger than 262144 bytes"})
    assert await stored_failures(tmp_path) == 1


async def test_a_declared_length_over_the_limit_is_refused_without_reading(
    tmp_path: Path,
) -> None:
    headers = auth() | {"content-length": str(10 * 1024 * 1024)}
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, failed_insert(), headers)
    assert response.status_code == 413
    assert await stored_failures(tmp_path) == 0


async def test_a_streamed_body_over_the_limit_is_a_413(tmp_path: Path) -> None:
    body = padded(failed_insert(), 300 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    async with serving(make_app(tmp_path)) as client:
        response = await client.post(WEBHOOK, content=chunks(), headers=auth())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert await stored_failures(tmp_path) == 0


async def test_a_streamed_body_under_the_limit_is_read_whole(tmp_path: Path) -> None:
    body = failed_insert()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    async with serving(make_app(tmp_path)) as client:
        response = await client.post(WEBHOOK, content=chunks(), headers=auth())
    assert response.json() == {"status": "accepted"}


async def test_the_body_limit_is_configurable(tmp_path: Path) -> None:
    async with serving(make_app(tmp_path, max_body_bytes=2048)) as client:
        fits = await post(client, padded(failed_insert(), 2048))
        too_big = await post(client, padded(failed_insert(id="g2"), 2049))
    assert (fits.status_code, too_big.status_code) == (202, 413)
    assert too_big.json() == {"error": "body larger than 2048 bytes"}


# --- 422 ----------------------------------------------------------------------------


def with_changes(**changes: Any) -> bytes:
    """A failed INSERT with envelope keys replaced, or removed when given `...`."""
    payload = json.loads(failed_insert())
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    return json.dumps(payload).encode()


def row_without(column: str) -> dict[str, Any]:
    row = generation()
    del row[column]
    return row


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # A JSON value that is not an object.
        pytest.param(b"[]", "$", id="array"),
        # No operation.
        pytest.param(with_changes(type=...), "type", id="no-type"),
        # An operation that is not a row change.
        pytest.param(with_changes(type="SELECT"), "type", id="bad-type"),
        # No table.
        pytest.param(with_changes(table=...), "table", id="no-table"),
        # A table that is not a name.
        pytest.param(with_changes(table=7), "table", id="table-number"),
        # No schema.
        pytest.param(with_changes(schema=...), "schema", id="no-schema"),
        # No new row for an INSERT.
        pytest.param(with_changes(record=None), "record", id="no-record"),
        # A row that is not an object.
        pytest.param(with_changes(record="failed"), "record", id="record-string"),
        # An old row that is not an object.
        pytest.param(with_changes(old_record=[]), "old_record", id="old-record-list"),
        # A generations row without its status.
        pytest.param(with_changes(record=row_without("status")), "record.status", id="no-status"),
        # A failed row without its id.
        pytest.param(with_changes(record=row_without("id")), "record.id", id="no-id"),
    ],
)
async def test_json_that_is_not_a_webhook_is_a_422_naming_the_field(
    tmp_path: Path, body: bytes, field: str
) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await post(client, body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["field"] == field
    assert answer["detail"].startswith(f"{field}: ")
    assert await stored_failures(tmp_path) == 0


# --- 503 ----------------------------------------------------------------------------


async def test_a_failure_is_a_503_when_the_store_is_unavailable(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with serving(app) as client:
        assert (await post(client, failed_insert(id="before"))).status_code == 202
        await services(app).store.close()  # the database went away under a running app
        failure = await post(client, failed_insert(id="during"))
        ignored = await post(client, supabase_body("DELETE", None, generation()))
    assert (failure.status_code, failure.json()) == (503, {"error": "state store unavailable"})
    # A call that needs no storage is still answered: pg_net would not retry it anyway.
    assert ignored.status_code == 202
    assert await stored_failures(tmp_path) == 1


async def test_a_store_that_cannot_open_makes_the_app_fail_to_start(tmp_path: Path) -> None:
    app = make_app(tmp_path / "no-such-dir")
    with pytest.raises(StoreUnavailable, match=r"state directory .*/no-such-dir does not exist"):
        async with serving(app):
            pass


# --- logs ---------------------------------------------------------------------------


async def test_one_structured_log_line_per_webhook_without_secrets_or_prompts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="failwatch")
    prompt = "my private prompt about my neighbour"
    async with serving(make_app(tmp_path)) as client:
        await post(client, failed_insert(prompt=prompt))
        await post(client, failed_insert(prompt=prompt))
        await post(client, failed_insert(), auth("wrong-secret"))
        await post(client, b"nope")
        await post(client, supabase_body("DELETE", None, generation()))
    lines = [r for r in caplog.records if r.getMessage() == "webhook"]
    outcomes = [(r.__dict__["outcome"], r.__dict__["status"], r.levelname) for r in lines]
    assert outcomes == [
        ("accepted", 202, "INFO"),
        ("duplicate", 202, "INFO"),
        ("unauthorized", 401, "WARNING"),
        ("invalid", 400, "WARNING"),
        # Ignored calls only at debug; the minute's summary (here: at shutdown) says them.
        ("ignored", 202, "DEBUG"),
    ]
    summaries = [r for r in caplog.records if r.getMessage().startswith("ignored ")]
    assert [(r.getMessage(), r.levelname) for r in summaries] == [
        ("ignored 1 webhook: delete 1", "INFO")
    ]
    assert summaries[0].__dict__["ignored"] == {"delete": 1}
    assert lines[0].__dict__["category"] == "timeout"
    assert lines[0].__dict__["generation_id"] == generation()["id"]
    assert lines[4].__dict__["reason"] == "delete"
    everything = " ".join(str(r.__dict__) for r in caplog.records)
    assert SECRET not in everything
    assert "wrong-secret" not in everything
    assert prompt not in everything
