"""The webhook under the text attacks of issue 13: NUL bytes and lone surrogates in any
field are cleaned at intake — the failure is accepted, stored (on SQLite and on
PostgreSQL, whose text cannot hold a NUL) and never answered with a 5xx."""

from __future__ import annotations

import json

import pytest

from receiver.config.settings import load_settings
from receiver.store import open_store
from receiver.web.app import create_app
from tests.asgi import serving
from tests.loops.harness import Recorder
from tests.payloads import SECRET, WEBHOOK, auth, generation

pytestmark = pytest.mark.anyio


def _with_error(text: str, **columns: object) -> dict[str, object]:
    row = generation(**columns)
    row["parameters"] = {
        "error": text,
        "errorContext": {"type": "ModelError", "timestamp": text, "message": text},
    }
    return row


@pytest.mark.parametrize(
    "bad",
    [
        # JSON may spell a NUL (\u0000); PostgreSQL text cannot hold one.
        "\x00",
        # A lone surrogate is valid JSON (\ud800) but not text anywhere else.
        "\ud800",
    ],
)
@pytest.mark.parametrize("where", ["id", "model_id", "user_id", "message", "parameters_text"])
async def test_nul_and_surrogates_are_cleaned_at_intake(
    state_url: str, bad: str, where: str
) -> None:
    tainted = f"flux{bad}pro"
    if where == "message":
        record = _with_error(tainted)
    elif where == "parameters_text":
        # parameters as a text column: JSON inside a string, escapes and all.
        record = generation(parameters=json.dumps({"error": tainted}))
    else:
        record = _with_error("Rate limit exceeded", **{where: tainted})
    envelope = {"type": "INSERT", "table": "generations", "schema": "public"}
    # json.dumps writes the \u0000 and \ud800 escapes a hostile client would send.
    body = json.dumps({**envelope, "record": record, "old_record": None}).encode()
    settings = load_settings(state_url=state_url, webhook_secret=SECRET)
    app = create_app(settings, notifiers={("default", "console"): Recorder()})
    async with serving(app) as client:
        first = await client.post(WEBHOOK, content=body, headers=auth())
        again = await client.post(WEBHOOK, content=body, headers=auth())
    assert (first.status_code, first.json()) == (202, {"status": "accepted"}), first.text
    assert again.json() == {"status": "duplicate"}

    store = open_store(state_url, schema="failwatch", pool_size=1)
    await store.open()
    try:
        assert await store.count_failures() == 1
    finally:
        await store.close()
