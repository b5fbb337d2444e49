"""`GET /openapi.json`: the OpenAPI 3.1 document of every endpoint of failwatch.

Bodies come from the pydantic models the handlers answer with (`api_models`), query
parameters from the specs the handlers read them with (`api`), so the document follows
the code; the tests check the served answers against it with schemathesis and that
every route of the app is described here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from receiver import __version__
from receiver.web import api_models as m
from receiver.web import params
from receiver.web.params import QueryParam

_REF = "#/components/schemas/{model}"
# The route names of the console (`web/console`) start with this.
CONSOLE_PREFIX = "console"

_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    m.ErrorResponse,
    m.FailedGenerations,
    m.FailureStats,
    m.OwnFailures,
    m.WebhookResult,
    m.WebhookError,
    m.Health,
    m.Readiness,
    m.Silence,
    m.Silences,
    m.Expired,
    m.Outbox,
    m.Requeued,
    m.FailurePatterns,
    m.Incidents,
    m.IncidentDetail,
    m.IncidentActionResult,
)
_REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    m.WebhookPayload,
    m.SilenceRequest,
    m.IncidentActionRequest,
)

Security = list[dict[str, list[str]]]
_ADMIN: Security = [{"adminToken": []}]
_USER: Security = [{"supabaseUser": []}]
_WEBHOOK: Security = [{"webhookSource": []}, {"webhookSecret": []}, {"webhookBearer": []}]

_SECURITY_SCHEMES = {
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "FAILWATCH_ADMIN_TOKEN. Missing → 401, wrong → 403.",
    },
    "supabaseUser": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Supabase access token (audience `authenticated`); `sub` is the user.",
    },
    "webhookSource": {"type": "apiKey", "in": "header", "name": "x-supabase-webhook-source"},
    "webhookSecret": {"type": "apiKey", "in": "header", "name": "x-webhook-secret"},
    "webhookBearer": {"type": "http", "scheme": "bearer"},
    "slackSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-slack-signature",
        "description": "Slack's v0 HMAC-SHA256 signature with FAILWATCH_SLACK_SIGNING_SECRET, "
        "over x-slack-request-timestamp (within 5 minutes) and the body.",
    },
}

_ERRORS = {
    400: "a query parameter is invalid (`parameter` names it)",
    401: "no credentials, or credentials that prove nothing",
    403: "a wrong admin token",
    404: "the feature is not configured; the message says which variable enables it",
    409: "the action does not apply (the incident is resolved)",
    413: "the body is too large",
    503: "the source database or the state store is down",
}


async def openapi_json(request: Request) -> Response:
    document: dict[str, Any] = request.app.state.openapi
    return JSONResponse(document)


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The document of the app with these routes: each route's path and methods, with
    the operation its name stands for."""
    operations = operations_by_id()
    paths: dict[str, dict[str, Any]] = {}
    for path, method, name in _endpoints(routes):
        paths.setdefault(path, {})[method] = operations[name]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "failwatch",
            "version": __version__,
            "description": "Grouped alerts for failed generations in Supabase, and the "
            "failed-generations guide's API.",
        },
        "paths": paths,
        "components": {"schemas": _schemas(), "securitySchemes": _SECURITY_SCHEMES},
    }


def is_console(route: BaseRoute) -> bool:
    """The console's pages answer HTML to a browser: they are not part of the API."""
    return (getattr(route, "name", None) or "").startswith(CONSOLE_PREFIX)


def _endpoints(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    for route in routes:
        if is_console(route):
            continue
        if isinstance(route, Mount):
            yield from _endpoints(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
                yield prefix + route.path, method.lower(), route.name


def operations_by_id() -> dict[str, Any]:
    """Each operation by its id (the name of the route that serves it)."""
    operations = [
        _webhook(),
        _operation("healthz", "Liveness: the process serves", None, {200: _json(m.Health)}),
        _operation(
            "readyz",
            "Readiness: the state store commits, and the background loops make progress",
            None,
            {200: _json(m.Readiness), 503: _json(m.Readiness, "not ready, and why")},
        ),
        _operation(
            "metrics",
            "Prometheus metrics",
            None,
            {
                200: {
                    "description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
        _operation(
            "openapi",
            "This document",
            None,
            {
                200: {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        ),
        _operation(
            "adminFailedGenerations",
            "Failed and stuck generations of every user, grouped by user",
            _ADMIN,
            {200: _json(m.FailedGenerations), **_errors(400, 401, 403, 404, 503)},
            params.FAILED_GENERATIONS,
        ),
        _operation(
            "adminFailureStats",
            "get_failure_stats(hoursBack) per model, and by error category",
            _ADMIN,
            {200: _json(m.FailureStats), **_errors(400, 401, 403, 404, 503)},
            params.FAILURE_STATS,
        ),
        _operation(
            "ownFailedGenerations",
            "The caller's own failed generations",
            _USER,
            {200: _json(m.OwnFailures), **_errors(400, 401, 404, 503)},
            params.OWN_FAILURES,
        ),
        _operation(
            "listSilences",
            "Silences, running (and with expired=true also past), a page at a time",
            _ADMIN,
            {200: _json(m.Silences), **_errors(400, 401, 403, 404, 503)},
            params.SILENCE_PAGE,
        ),
        _operation(
            "createSilence",
            "Mute failures that match, from startsAt to endsAt",
            _ADMIN,
            {
                201: _json(m.Silence, "created"),
                **_errors(400, 401, 403, 404, 413, 503),
                422: _json(m.ErrorResponse, "not a valid silence"),
            },
            body=m.SilenceRequest,
        ),
        {
            **_operation(
                "expireSilence",
                "End a silence now",
                _ADMIN,
                {200: _json(m.Expired, "expired"), **_errors(401, 403, 404, 503)},
            ),
            "parameters": [_path_param("id", {"type": "string"})],
        },
        {
            **_operation(
                "listOutbox",
                "Notifications in the outbox (default: the dead letter)",
                _ADMIN,
                {200: _json(m.Outbox), **_errors(400, 401, 403, 404, 503)},
            ),
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["pending", "sent", "dead", "all"], "default": "dead"},
                }
            ],
        },
        _operation(
            "adminFailurePatterns",
            "Failures per bucket, stacked by category or model, and the top models, users "
            "and errors of the window, from failwatch's own store (the console's /failures)",
            _ADMIN,
            {200: _json(m.FailurePatterns), **_errors(400, 401, 403, 404, 503)},
            params.FAILURE_PATTERNS,
        ),
        _operation(
            "retryDeadNotifications",
            "Send every dead notification again",
            _ADMIN,
            {200: _json(m.Requeued), **_errors(401, 403, 404, 503)},
        ),
        {
            **_operation(
                "retryDeadNotification",
                "Send one dead notification again",
                _ADMIN,
                {200: _json(m.Requeued), **_errors(401, 403, 404, 503)},
            ),
            "parameters": [
                _path_param("id", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1})
            ],
        },
        *_incident_operations(),
        _slack_interactions(),
    ]
    return {op["operationId"]: op for op in operations}


def _incident_operations() -> list[dict[str, Any]]:
    incident_id = _path_param("id", {"type": "string", "maxLength": 64})

    def action(operation_id: str, summary: str) -> dict[str, Any]:
        operation = _operation(
            operation_id,
            summary,
            _ADMIN,
            {
                200: _json(m.IncidentActionResult),
                **_errors(400, 401, 403, 404, 409, 413, 503),
                422: _json(m.ErrorResponse, "not a valid actor"),
            },
        )
        schema = {"$ref": _REF.format(model=m.IncidentActionRequest.__name__)}
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": schema}},
        }
        return {**operation, "parameters": [incident_id]}

    return [
        _operation(
            "listIncidents",
            "Incidents, the most recently opened first",
            _ADMIN,
            {200: _json(m.Incidents), **_errors(400, 401, 403, 404, 503)},
            params.INCIDENTS,
        ),
        {
            **_operation(
                "showIncident",
                "One incident with its timeline of notifications and actions",
                _ADMIN,
                {200: _json(m.IncidentDetail), **_errors(401, 403, 404, 503)},
            ),
            "parameters": [incident_id],
        },
        action("acknowledgeIncident", "Acknowledge an incident: no repeats until it ends"),
        action("resolveIncident", "Resolve an incident now; the next failure opens a new one"),
    ]


def _slack_interactions() -> dict[str, Any]:
    operation = _operation(
        "slackInteractions",
        "The Slack app's Interactivity Request URL: clicks on an incident's buttons",
        [{"slackSignature": []}],
        {
            200: {"description": "received (refusals are told to the clicker via response_url)"},
            401: _json(m.ErrorResponse, "missing, wrong or stale signature"),
            404: _json(m.ErrorResponse, _ERRORS[404]),
            413: _json(m.ErrorResponse, "body larger than 64 KiB"),
            503: _json(m.ErrorResponse, "state store unavailable"),
        },
    )
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"payload": {"type": "string"}},
                    "required": ["payload"],
                }
            }
        },
    }
    return operation


def _webhook() -> dict[str, Any]:
    return _operation(
        "receiveWebhook",
        "A Supabase Database Webhook call about the generations table",
        _WEBHOOK,
        {
            202: _json(m.WebhookResult, "accepted, duplicate, or ignored (not a new failure)"),
            400: _json(m.WebhookError, "not JSON"),
            401: _json(m.WebhookError, "missing or wrong shared secret"),
            413: _json(m.WebhookError, "body larger than FAILWATCH_MAX_BODY_BYTES"),
            422: _json(m.WebhookError, "JSON that is not a webhook payload (`field` names it)"),
            503: _json(m.WebhookError, "state store unavailable; nothing was stored"),
        },
        body=m.WebhookPayload,
    )


def _operation(
    operation_id: str,
    summary: str,
    security: Security | None,
    responses: dict[int, Any],
    parameters: Sequence[QueryParam] = (),
    *,
    body: type[BaseModel] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {str(status): response for status, response in responses.items()},
    }
    if security is not None:
        operation["security"] = security
    if parameters:
        operation["parameters"] = [
            {
                "name": param.name,
                "in": "query",
                "required": False,
                "description": param.description,
                "schema": param.schema(),
            }
            for param in parameters
        ]
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=body.__name__)}}},
        }
    return operation


def _path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _json(model: type[BaseModel], description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or (model.__doc__ or model.__name__).strip().splitlines()[0],
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
    }


def _errors(*statuses: int) -> dict[int, Any]:
    return {status: _json(m.ErrorResponse, _ERRORS[status]) for status in statuses}


def _schemas() -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "serialization") for model in _RESPONSE_MODELS
    ]
    wanted += [(model, "validation") for model in _REQUEST_MODELS]
    _, definitions = models_json_schema(wanted, ref_template=_REF)
    schemas: dict[str, Any] = definitions["$defs"]
    return schemas
