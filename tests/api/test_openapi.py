"""`GET /openapi.json` describes every route, and the served answers match it
(schemathesis, against the ASGI app with a seeded source database)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from receiver.web.app import create_app
from receiver.web.openapi import is_console, openapi_document, operations_by_id
from tests.api.seed import USERS, Seeded
from tests.api.support import admin_headers, api_settings, user_headers

WEBHOOK_SECRET = "webhook-secret-for-the-schema-run"


@pytest.fixture(scope="module")
def app(source: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    yield create_app(api_settings(tmp, source, webhook_secret=WEBHOOK_SECRET))
    # schemathesis keeps the lifespan of an app it served running; end it with the module.
    asgi.shutdown_lifespans()


def _routes(app: Starlette) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}

    def walk(found: list[BaseRoute], prefix: str) -> None:
        for route in found:
            if is_console(route):
                continue
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
                continue
            assert isinstance(route, Route)
            methods = {m.lower() for m in route.methods or ()} - {"head", "options"}
            routes.setdefault(prefix + route.path, set()).update(methods)

    walk(app.routes, "")
    return routes


def test_the_document_is_valid_openapi(app: Starlette) -> None:
    schemathesis.openapi.from_dict(openapi_document(app.routes)).validate()


def test_every_route_is_described_and_every_description_routed(app: Starlette) -> None:
    document = openapi_document(app.routes)
    paths = document["paths"]
    assert {path: set(methods) for path, methods in paths.items()} == _routes(app)
    served = {op["operationId"] for methods in paths.values() for op in methods.values()}
    assert served == set(operations_by_id())


def test_the_console_is_routed_but_not_in_the_api_document(app: Starlette) -> None:
    console = [r for r in app.routes if is_console(r)]
    paths = openapi_document(app.routes)["paths"]
    assert {getattr(r, "path", "") for r in console} >= {"/incidents", "/failures", "/login"}
    assert not any(getattr(r, "path", None) in paths for r in console)


def test_a_route_without_a_description_is_refused() -> None:
    async def endpoint(request: Request) -> Response:
        return Response()

    with pytest.raises(KeyError, match="undocumented"):
        openapi_document([Route("/x", endpoint, name="undocumented")])


def _headers_for(path: str) -> dict[str, str]:
    if path.startswith("/api/admin/"):
        return admin_headers()
    if path == "/api/generations/failed":
        return user_headers(USERS[0])
    if path == "/webhooks/supabase":
        return {"x-supabase-webhook-source": WEBHOOK_SECRET}
    return {}


@pytest.mark.postgres
def test_served_answers_match_the_document(app: Starlette) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    routed = _routes(app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    # Operations described ahead of their routes (the silences API) join in once routed.
    checked = [op for op in operations if op.method.lower() in routed.get(op.path, set())]
    # schemathesis leaves out the document's own path; loading it was its check.
    assert {(op.method.lower(), op.path) for op in checked} == {
        (method, path)
        for path, methods in routed.items()
        for method in methods
        if path != "/openapi.json"
    }
    seen: dict[str, set[int]] = {}
    for operation in checked:

        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call_and_validate(
                headers=_headers_for(case.operation.path),
                checks=[not_a_server_error, response_schema_conformance],
            )
            seen.setdefault(case.operation.label, set()).add(response.status_code)

        run()
    # The run reached real answers, not only refusals.
    assert 200 in seen["GET /api/admin/failed-generations"]
    assert 200 in seen["GET /api/admin/failure-stats"]
    assert 200 in seen["GET /api/generations/failed"]
    assert 202 in seen["POST /webhooks/supabase"]
