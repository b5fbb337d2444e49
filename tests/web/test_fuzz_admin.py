"""Property: no JSON body, path or query parameter gets a 5xx from the admin API, and a
silence is stored exactly when the answer is 201.

One app serves every example (started once per test through a blocking portal), like
the webhook's fuzz test.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from receiver.config.settings import load_settings
from receiver.timefmt import iso
from receiver.web.app import create_app
from tests.asgi import serving
from tests.loops.harness import Recorder

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,  # no example database written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ADMIN = {"Authorization": "Bearer admin-t0ken"}
SILENCES = "/api/admin/silences"


@dataclass
class Admin:
    portal: BlockingPortal
    client: httpx.AsyncClient

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**ADMIN, **kwargs.pop("headers", {})}
        return self.portal.call(lambda: self.client.request(method, url, headers=headers, **kwargs))

    def silences(self) -> int:
        listed = self.request("GET", SILENCES, params={"expired": "true"})
        assert listed.status_code == 200, listed.text
        return len(listed.json()["silences"])


@contextmanager
def admin_api(state_dir: Path) -> Iterator[Admin]:
    app_settings = load_settings(
        state_url=f"sqlite:///{state_dir / 'fw.db'}", admin_token="admin-t0ken"
    )
    app = create_app(app_settings, notifiers={("default", "console"): Recorder()})
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(serving(app)) as client,
    ):
        yield Admin(portal, client)


def assert_json_error_or_success(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code == 307:  # Starlette's redirect of a trailing slash: no body
        return
    kind = response.headers.get("content-type", "")
    assert kind.startswith("application/json"), (response.status_code, response.url, response.text)
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)


# --- strategies ---------------------------------------------------------------------

# Every number JSON text can spell, and those Python's json reads although JSON cannot.
numbers = (
    st.integers()
    | st.integers(min_value=10**300, max_value=10**500)
    | st.floats()
    | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0])
)
texts = st.text() | st.sampled_from(["\ud800", "\x00", "2026-01-01T00:00:00Z", "9999-12-31"])
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
matcher_texts = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda name, op, value: f"{name}{op}{value}",
        st.sampled_from(["model_id", "category", "error_type", "x", "", "1a"]),
        st.sampled_from(["=", "!=", "=~", "!~", "==", "~"]),
        st.text(max_size=20) | st.sampled_from(['"(a+)+$"', '"\\1"', "(?=x)", '"\ud800"', ".*"]),
    ),
)
times = st.one_of(
    numbers,
    texts,
    st.floats(min_value=time.time() + 60, max_value=time.time() + 80 * 86400).map(iso),
    st.none(),
)


@st.composite
def silence_bodies(draw: st.DrawFn) -> Any:
    """Mostly near-valid silences, some arbitrary JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    body: dict[str, Any] = {
        "matchers": draw(st.lists(matcher_texts, max_size=3) | json_values),
        "endsAt": draw(times),
        "comment": draw(st.text(max_size=20) | json_values),
        "author": draw(st.text(max_size=20) | json_values),
    }
    if draw(st.booleans()):
        body["startsAt"] = draw(times)
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        body.pop(key, None)
    if draw(st.booleans()):
        body[draw(st.text(max_size=8))] = draw(json_values)
    return body


# --- properties ---------------------------------------------------------------------


def test_silence_bodies_never_5xx_and_store_only_on_201(tmp_path: Path) -> None:
    with admin_api(tmp_path) as admin:

        @FUZZ
        @given(silence_bodies())
        @example({"matchers": ["model_id=x"], "endsAt": math.nan, "comment": "c", "author": "a"})
        @example({"matchers": ['model_id!="\ud800"'], "endsAt": iso(time.time() + 60)})
        @example({"matchers": ["model_id=x"], "endsAt": 10**400, "comment": "c", "author": "a"})
        def check(body: Any) -> None:
            before = admin.silences()
            # allow_nan: NaN and Infinity go out as Python writes them; ensure_ascii keeps
            # lone surrogates as \\ud800 escapes, as a hostile client would send them.
            raw = json.dumps(body, allow_nan=True)
            response = admin.request(
                "POST", SILENCES, content=raw, headers={"content-type": "application/json"}
            )
            assert_json_error_or_success(response)
            assert admin.silences() == before + (response.status_code == 201), response.text

        check()


def test_raw_bodies_never_5xx(tmp_path: Path) -> None:
    with admin_api(tmp_path) as admin:

        @FUZZ
        @given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
        @example(b"[" * 30_000 + b"]" * 30_000)
        @example(b'{"endsAt": 1' + b"0" * 400 + b"}")
        @example(b"\xff\xfe{}")
        def check(body: bytes) -> None:
            response = admin.request(
                "POST", SILENCES, content=body, headers={"content-type": "application/json"}
            )
            assert_json_error_or_success(response)
            assert admin.silences() == 0

        check()


path_texts = st.text(min_size=1, max_size=40) | st.sampled_from(
    ["²", "٣", "1" * 400, "-1", "0", str(2**63), "\x00", "\ud800", "..", "%2F"]
)


def test_path_and_query_parameters_never_5xx(tmp_path: Path) -> None:
    with admin_api(tmp_path) as admin:

        @FUZZ
        @given(path_texts, st.text(max_size=30), st.text(max_size=30))
        def check(raw_id: str, status: str, expired: str) -> None:
            segment = quote(raw_id.encode("utf-8", "surrogatepass"), safe="")
            for method, url, params in [
                ("POST", f"/api/admin/outbox/{segment}/retry", {}),
                ("DELETE", f"{SILENCES}/{segment}", {}),
                ("GET", "/api/admin/outbox", {"status": status}),
                ("GET", SILENCES, {"expired": expired}),
                ("POST", "/api/admin/outbox/retry", {"x": status}),
            ]:
                response = admin.request(method, url, params=params)
                assert_json_error_or_success(response)
                assert response.status_code in (200, 307, 400, 404), (url, response.text)

        check()
