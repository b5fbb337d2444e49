"""Property: no body or header set sent to `/slack/interactions` gets a 5xx; unsigned ones
are 401; signed ones that are not a known click on a real incident change nothing.

One app serves every example (started once per test through a blocking portal)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.store import Store
from receiver.store.tx import Tx
from tests.asgi import serving
from tests.webapp import make_app

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SECRET = "fuzz-signing-secret"
URL = "/slack/interactions"
Post = Callable[[bytes, list[tuple[bytes, bytes]]], httpx.Response]


@contextmanager
def running_app(state_dir: Path) -> Iterator[tuple[Post, Callable[[], int]]]:
    app = make_app(state_dir, slack_signing_secret=SECRET)
    store: Store = app.state.services.store
    portal: BlockingPortal
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(serving(app)) as client,
    ):

        def post(body: bytes, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
            return portal.call(lambda: client.post(URL, content=body, headers=headers))

        def changes() -> int:
            def count(tx: Tx) -> int:
                row = tx.fetchone(
                    "SELECT (SELECT count(*) FROM actions) + (SELECT count(*) FROM silences)"
                )
                return int(row[0]) if row else 0

            return portal.call(lambda: store.read(count))

        yield post, changes


def signed(body: bytes) -> list[tuple[bytes, bytes]]:
    ts = str(int(time.time())).encode()
    digest = hmac.new(SECRET.encode(), b"v0:" + ts + b":" + body, hashlib.sha256).hexdigest()
    return [
        (b"x-slack-request-timestamp", ts),
        (b"x-slack-signature", f"v0={digest}".encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
action_ids = st.sampled_from(
    ["failwatch.ack", "failwatch.mute", "failwatch.resolve", "failwatch.unmute", "failwatch.open"]
)


@st.composite
def clicks(draw: st.DrawFn) -> dict[str, Any]:
    """Payloads shaped like block_actions, with anything in their fields."""
    action: dict[str, Any] = {
        "action_id": draw(action_ids | st.text(max_size=20)),
        "value": draw(st.text(max_size=40) | json_values),
        "block_id": draw(st.text(max_size=40) | json_values),
        "action_ts": draw(st.text(max_size=20) | json_values),
        "selected_option": draw(json_values),
    }
    return {
        "type": draw(st.sampled_from(["block_actions", "view_submission"]) | json_values),
        "user": draw(st.fixed_dictionaries({"id": st.text(max_size=12)}) | json_values),
        "team": draw(json_values),
        "actions": draw(st.lists(st.just(action) | json_values, max_size=2)),
        "response_url": draw(st.just("http://127.0.0.1:9/nowhere") | json_values),
    }


header_bytes = st.binary(max_size=80).filter(lambda b: b"\r" not in b and b"\n" not in b)


def test_unsigned_requests_are_401(tmp_path: Path) -> None:
    with running_app(tmp_path) as (post, changes):

        @FUZZ
        @given(body=st.binary(max_size=512), ts=header_bytes, signature=header_bytes)
        def check(body: bytes, ts: bytes, signature: bytes) -> None:
            headers = [(b"x-slack-request-timestamp", ts), (b"x-slack-signature", signature)]
            assert post(body, headers).status_code == 401

        check()
        assert changes() == 0


def test_signed_payloads_are_never_5xx_and_change_nothing(tmp_path: Path) -> None:
    with running_app(tmp_path) as (post, changes):

        @FUZZ
        @given(payload=clicks() | json_values, raw=st.booleans())
        def check(payload: Any, raw: bool) -> None:
            text = json.dumps(payload)
            body = text.encode() if raw else urllib.parse.urlencode({"payload": text}).encode()
            answer = post(body, signed(body))
            assert answer.status_code == 200, answer.text

        check()
        assert changes() == 0
