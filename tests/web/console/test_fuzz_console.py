"""Property: no query string on any console page, and no form posted to any console
action, gets a 5xx; a bad value is a 4xx that names what was wrong.

One signed-in app serves every example (through a blocking portal), so hundreds of
examples take seconds.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.asgi import serving
from tests.web.console.harness import console_app, csrf_of, seed_failures, sign_in

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PAGES = [
    "/incidents",
    "/incidents/0123456789abcdef01234567-1",
    "/failures",
    "/silences",
    "/delivery",
    "/status",
    "/login",
    "/silences/x/expire",
]
ACTIONS = [
    "/incidents/0123456789abcdef01234567-1/mute",
    "/silences",
    "/silences/preview",
    "/silences/x/expire",
    "/delivery/1/retry",
]
NAMES = [
    "window",
    "step",
    "by",
    "matcher",
    "next",
    "state",
    "q",
    "csrf",
    "matchers",
    "duration",
    "comment",
    "author",
]

names = st.sampled_from(NAMES) | st.text(max_size=10)
values = st.sampled_from(
    ["24h", "7d", "5m", "1h", "category", "model_id", "", "model_id=x", "=~("]
) | st.text(max_size=40)
pairs = st.lists(st.tuples(names, values), max_size=6)

Ask = Callable[[str, str, bytes | None], httpx.Response]


@contextmanager
def signed_in(tmp_path: Path) -> Iterator[tuple[Ask, str]]:
    app = console_app(tmp_path)
    portal: BlockingPortal
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(serving(app)) as client,
    ):
        portal.call(sign_in, client)
        portal.call(seed_failures, client)
        csrf = csrf_of(portal.call(client.get, "/silences").text)

        def ask(method: str, url: str, body: bytes | None) -> httpx.Response:
            headers = {"content-type": "application/x-www-form-urlencoded"}
            return portal.call(lambda: client.request(method, url, content=body, headers=headers))

        yield ask, csrf


def test_no_query_string_breaks_a_page(tmp_path: Path) -> None:
    with signed_in(tmp_path) as (ask, _):

        @FUZZ
        @given(path=st.sampled_from(PAGES), query=pairs)
        def check(path: str, query: list[tuple[str, str]]) -> None:
            url = path + "?" + urllib.parse.urlencode(query)
            response = ask("GET", url, None)
            assert response.status_code in (200, 303, 400, 404), (url, response.status_code)

        check()


def test_no_form_breaks_an_action(tmp_path: Path) -> None:
    with signed_in(tmp_path) as (ask, csrf):

        @FUZZ
        @given(
            path=st.sampled_from(ACTIONS),
            form=pairs,
            raw=st.binary(max_size=64),
            use_raw=st.booleans(),
        )
        def check(path: str, form: list[tuple[str, str]], raw: bytes, use_raw: bool) -> None:
            body = raw if use_raw else urllib.parse.urlencode([("csrf", csrf), *form]).encode()
            response = ask("POST", path, body)
            assert response.status_code in (200, 303, 400, 403, 404, 422), (
                path,
                body,
                response.status_code,
                response.text[:200],
            )

        check()
