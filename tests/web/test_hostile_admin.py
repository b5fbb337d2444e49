"""The admin API under the attacks of issue 13: each answers a 4xx JSON error, stores
nothing, and leaves the listing working — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from receiver.config.settings import load_settings
from receiver.timefmt import iso
from receiver.web.app import create_app
from tests.asgi import serving
from tests.loops.harness import Recorder

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": "Bearer admin-t0ken"}
SILENCES = "/api/admin/silences"


@pytest.fixture
async def client(state_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(state_url=state_url, admin_token="admin-t0ken")
    app = create_app(settings, notifiers={("default", "console"): Recorder()})
    async with serving(app) as served:
        yield served


def _silence(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "matchers": ["model_id=flux-pro"],
        "endsAt": iso(time.time() + 3600),
        "comment": "provider outage",
        "author": "oncall",
    }
    body.update(changes)
    return body


async def _nothing_stored(client: httpx.AsyncClient) -> None:
    listed = await client.get(SILENCES, headers=ADMIN, params={"expired": "true"})
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"silences": [], "next": None}


def _with_raw(**raw_fields: str) -> bytes:
    """A silence body with some fields written as raw JSON text (NaN is not JSON)."""
    body = _silence()
    for name in raw_fields:
        body.pop(name, None)
    text = json.dumps(body)[:-1] + "".join(f', "{k}": {v}' for k, v in raw_fields.items())
    return (text + "}").encode()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        # Python's json reads NaN and Infinity; NaN passed every range check and sorted
        # above every time on PostgreSQL: a permanent, invisible silence.
        ({"endsAt": "NaN"}, "endsAt"),
        ({"endsAt": "Infinity"}, "endsAt"),
        ({"endsAt": "-Infinity"}, "endsAt"),
        ({"startsAt": "NaN"}, "startsAt"),
        # 1e400 overflows to infinity on reading.
        ({"endsAt": "1e400"}, "endsAt"),
        # A 400-digit integer cannot become a float at all (it raised OverflowError).
        ({"endsAt": "1" + "0" * 400}, "endsAt"),
        # Epoch seconds beyond the year 9999, which no listing could show.
        ({"endsAt": "1e15"}, "endsAt"),
        # A time string whose offset pushes it past the last representable moment.
        ({"endsAt": '"9999-12-31T23:59:59-12:00"'}, "endsAt"),
    ],
)
async def test_non_finite_and_far_times_are_422_and_store_nothing(
    client: httpx.AsyncClient, raw: dict[str, str], field: str
) -> None:
    response = await client.post(
        SILENCES, content=_with_raw(**raw), headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]
    await _nothing_stored(client)


@pytest.mark.parametrize(
    "matcher",
    [
        # A lone surrogate was stored while the POST answered 500, and then every listing
        # answered 500; as !=, it muted everything invisibly.
        'model_id!="\ud800"',
        'model_id="\udfff"',
        "model_id=~\ud800.*",
        # A backreference cannot run in RE2: refused by name.
        "model_id=~(a)\\1",
        # A NUL cannot be stored in PostgreSQL text.
        'model_id="flux\x00"',
    ],
)
async def test_unstorable_matchers_are_422_and_store_nothing(
    client: httpx.AsyncClient, matcher: str
) -> None:
    # json.dumps writes the \u0000 and \ud800 escapes a hostile client would send.
    body = json.dumps(_silence(matchers=[matcher]))
    headers = {**ADMIN, "content-type": "application/json"}
    response = await client.post(SILENCES, content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert "matchers" in response.json()["error"]
    await _nothing_stored(client)


@pytest.mark.parametrize(
    "body",
    [
        # Deeply nested JSON under the 64 KiB limit: the parser's recursion limit raised
        # RecursionError.
        b"[" * 30_000 + b"]" * 30_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    ],
)
async def test_deeply_nested_json_is_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        SILENCES, content=body, headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    await _nothing_stored(client)


@pytest.mark.parametrize(
    "raw_id",
    [
        # str.isdigit() is true for superscripts and other digits int() refuses.
        "%C2%B2",
        "%D9%A3",  # Arabic-Indic three: int() reads it, but it is no outbox id
        "1" * 400,
        "-1",
        "0x10",
    ],
)
async def test_odd_outbox_ids_are_404(client: httpx.AsyncClient, raw_id: str) -> None:
    response = await client.post(f"/api/admin/outbox/{raw_id}/retry", headers=ADMIN)
    assert response.status_code == 404, response.text
    assert response.json()["error"]


@pytest.mark.parametrize(
    "raw_id",
    ["%00", "%ED%A0%80", "x" * 10_000, "%F0%9F%92%A5"],
)
async def test_odd_silence_ids_are_404(client: httpx.AsyncClient, raw_id: str) -> None:
    response = await client.delete(f"{SILENCES}/{raw_id}", headers=ADMIN)
    assert response.status_code == 404, response.text
    assert response.json()["error"]
