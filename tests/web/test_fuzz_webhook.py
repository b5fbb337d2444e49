"""Property: no body, header set or content type gets a 5xx, and none that is not a
well-formed, authenticated failure report stores anything.

One app serves every example (started once per test through a blocking portal), so
hundreds of examples run in a second or two.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from receiver.store import Store
from receiver.web.context import Services
from tests.asgi import serving
from tests.payloads import SECRET, WEBHOOK, generation, jsonb_text
from tests.webapp import make_app

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no example database written into the working tree
    suppress_health_check=[HealthCheck.too_slow],
)

Post = Callable[[bytes, dict[str, str]], httpx.Response]


@contextmanager
def running_app(state_dir: Path, **overrides: Any) -> Iterator[tuple[Post, Callable[[], int]]]:
    """A served app, a blocking `post(body, headers)`, and a count of stored rows."""
    app = make_app(state_dir, **overrides)
    services: Services = app.state.services
    store: Store = services.store
    portal: BlockingPortal
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(serving(app)) as client,
    ):

        def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
            return portal.call(lambda: client.post(WEBHOOK, content=body, headers=headers))

        def stored() -> int:
            return portal.call(store.count_failures)

        yield post, stored


def assert_harmless(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code == 202:
        assert response.json()["status"] == "ignored", response.text
    else:
        assert response.status_code in (400, 401, 413, 422), response.status_code


# --- strategies ---------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

header_names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=24
).filter(lambda name: name not in ("content-length", "transfer-encoding", "host"))
# What HTTP can carry in a header value: visible ASCII and spaces, trimmed.
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
).map(str.strip)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/octet-stream",
            "",
        ]
    )
    | header_values
)

AUTH = {"x-supabase-webhook-source": SECRET}
FAILURE_ENVELOPE: dict[str, Any] = {
    "type": "INSERT",
    "table": "generations",
    "schema": "public",
    "record": generation(),
    "old_record": None,
}


@st.composite
def near_misses(draw: st.DrawFn) -> dict[str, Any]:
    """A real failure report with one thing changed so that it no longer is one."""
    payload: dict[str, Any] = json.loads(json.dumps(FAILURE_ENVELOPE))
    record = payload["record"]
    change = draw(
        st.sampled_from(
            [
                "drop_key",
                "envelope_value",
                "status",
                "drop_id",
                "id_value",
                "table",
                "schema",
                "delete",
                "already_failed",
                "record_value",
            ]
        )
    )
    if change == "drop_key":
        del payload[draw(st.sampled_from(["type", "table", "schema", "record"]))]
    elif change == "envelope_value":
        key = draw(st.sampled_from(["type", "table", "schema", "record"]))
        payload[key] = draw(json_values.filter(lambda v: v != FAILURE_ENVELOPE[key]))
    elif change == "status":
        record["status"] = draw(json_values.filter(lambda v: v != "failed"))
    elif change == "drop_id":
        del record["id"]
    elif change == "id_value":
        record["id"] = draw(st.sampled_from([None, "", True, False, [], {}, [1], {"a": 1}]))
    elif change == "table":
        payload["table"] = draw(st.text(min_size=1).filter(lambda t: t != "generations"))
    elif change == "schema":
        payload["schema"] = draw(st.text(min_size=1).filter(lambda s: s != "public"))
    elif change == "delete":
        payload.update(type="DELETE", record=None, old_record=record)
    elif change == "already_failed":
        payload.update(type="UPDATE", old_record=dict(record))
    else:
        # Any value for the row itself that is not an object.
        payload["record"] = draw(json_values.filter(lambda v: not isinstance(v, dict)))
    return payload


# --- properties ---------------------------------------------------------------------


def test_arbitrary_bytes_and_content_types(tmp_path: Path) -> None:
    with running_app(tmp_path) as (post, stored):

        @FUZZ
        @given(body=st.binary(max_size=2048), content_type=content_types)
        @example(body=b"", content_type="application/json")
        @example(body=b"\xef\xbb\xbf{}", content_type="application/json")
        @example(body=b"[" * 50_000, content_type="application/json")
        @example(body=b'{"type": ' + b"1" * 5000 + b"}", content_type="application/json")
        @example(body=b"\x00" * 64, content_type="application/octet-stream")
        def check(body: bytes, content_type: str) -> None:
            assert_harmless(post(body, AUTH | {"content-type": content_type}))

        check()
        assert stored() == 0


def test_arbitrary_json(tmp_path: Path) -> None:
    with running_app(tmp_path) as (post, stored):

        @FUZZ
        @given(value=json_values)
        @example(value={"type": "INSERT", "table": "generations", "schema": "public"})
        @example(value={"type": "UPDATE", "table": "generations", "schema": "public", "record": {}})
        def check(value: Any) -> None:
            assert_harmless(post(json.dumps(value).encode(), AUTH))

        check()
        assert stored() == 0


def test_near_miss_payloads(tmp_path: Path) -> None:
    with running_app(tmp_path) as (post, stored):

        @FUZZ
        @given(payload=near_misses(), as_jsonb=st.booleans())
        def check(payload: dict[str, Any], as_jsonb: bool) -> None:
            text = jsonb_text(payload) if as_jsonb else json.dumps(payload)
            assert_harmless(post(text.encode(), AUTH))

        check()
        assert stored() == 0


def test_arbitrary_headers_never_authenticate_a_real_failure(tmp_path: Path) -> None:
    body = jsonb_text(FAILURE_ENVELOPE).encode()
    with running_app(tmp_path) as (post, stored):

        @FUZZ
        @given(
            headers=st.dictionaries(header_names, header_values, max_size=6),
            secret_slot=st.sampled_from(
                ["x-supabase-webhook-source", "x-webhook-secret", "authorization"]
            ),
            presented=header_values.filter(lambda v: SECRET not in v),
        )
        @example(headers={}, secret_slot="authorization", presented=f"Basic {SECRET[:-1]}")
        def check(headers: dict[str, str], secret_slot: str, presented: str) -> None:
            sent = {k: v for k, v in headers.items() if SECRET not in v} | {secret_slot: presented}
            response = post(body, sent)
            assert response.status_code == 401, response.text

        check()
        assert stored() == 0


def test_arbitrary_headers_around_a_non_failure(tmp_path: Path) -> None:
    body = jsonb_text(dict(FAILURE_ENVELOPE, type="DELETE", old_record=generation())).encode()
    with running_app(tmp_path) as (post, stored):

        @FUZZ
        @given(
            headers=st.dictionaries(header_names, header_values, max_size=6),
            content_type=content_types,
        )
        def check(headers: dict[str, str], content_type: str) -> None:
            sent = headers | AUTH | {"content-type": content_type}
            response = post(body, sent)
            assert (response.status_code, response.json()) == (
                202,
                {"status": "ignored", "reason": "delete"},
            )

        check()
        assert stored() == 0
