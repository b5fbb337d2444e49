"""Admin API of incidents: list them, show one with its timeline, acknowledge or resolve
one — the same functions (`loops.incidents`) that Slack's buttons, the CLI and the
console call, recorded in the same `actions` table with the actor.

Under the `/api/admin` mount (the admin token is checked there). An action answers 200
with `done` or `unchanged` (it already was so), 404 for no such incident, 409 when it
does not apply (the incident is resolved).
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.engine.incidents import Action, ActionSource, Actor, Outcome
from receiver.errors import BadParameter, BodyTooLarge
from receiver.loops.incidents import (
    IncidentFilter,
    act,
    describe,
    describe_timeline,
    list_incidents,
    show_incident,
)
from receiver.web import api_models as m
from receiver.web import params
from receiver.web.api import bad_parameter
from receiver.web.context import services_of
from receiver.web.webhook import read_body

MAX_BODY = 4096


async def incidents(request: Request) -> Response:
    query = request.query_params
    try:
        state = params.INCIDENT_STATE.read(query)
        wanted = IncidentFilter(
            state=None if state is params.IncidentStates.ALL else state.value,
            category=params.CATEGORY.read(query),
            model_id=params.MODEL_ID.read(query),
            since=params.SINCE.read(query),
            until=params.UNTIL.read(query),
            text=params.TEXT.read(query),
            limit=params.INCIDENT_LIMIT.read(query),
            offset=params.OFFSET.read(query),
        )
    except BadParameter as exc:
        return bad_parameter(exc)
    services = services_of(request)
    now = services.clock()
    found = await list_incidents(services.store, wanted, now=now)
    listed = [m.Incident.model_validate(describe(i, now=now)) for i in found]
    return JSONResponse(m.Incidents(incidents=listed).body())


async def incident(request: Request) -> Response:
    services = services_of(request)
    timeline = await show_incident(services.store, request.path_params["id"])
    if timeline is None:
        return m.error_response(404, "no such incident")
    detail = describe_timeline(timeline, now=services.clock())
    return JSONResponse(m.IncidentDetail.model_validate(detail).body())


async def acknowledge(request: Request) -> Response:
    return await _act(request, Action.ACK)


async def resolve(request: Request) -> Response:
    return await _act(request, Action.RESOLVE)


async def _act(request: Request, action: Action) -> Response:
    services = services_of(request)
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        return m.error_response(413, f"body larger than {MAX_BODY} bytes")
    except ClientDisconnect:
        return m.error_response(400, "client disconnected")
    try:
        raw = json.loads(body) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return m.error_response(400, "body is not valid JSON")
    try:
        who = m.IncidentActionRequest.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(p) for p in error["loc"]) or "body"
        return m.error_response(422, f"{field}: {error['msg']}")
    now = services.clock()
    result = await act(
        services.store,
        request.path_params["id"],
        action,
        Actor(who.actor, who.actor, ActionSource.API),
        integrations=services.integrations,
        now=now,
    )
    if result.outcome is Outcome.UNKNOWN or result.incident is None:
        return m.error_response(404, "no such incident")
    if result.outcome is Outcome.REFUSED:
        return m.error_response(409, result.message)
    if result.outcome is Outcome.DONE:
        services.new_notifications.set()
    answer = m.IncidentActionResult(
        outcome=result.outcome.value,
        message=result.message,
        incident=m.Incident.model_validate(describe(result.incident, now=now)),
    )
    return JSONResponse(answer.body())


def incident_routes() -> list[Route]:
    """Under the `/api/admin` mount (which checks the token); names are OpenAPI ids."""
    return [
        Route("/incidents", incidents, methods=["GET"], name="listIncidents"),
        Route("/incidents/{id}", incident, methods=["GET"], name="showIncident"),
        Route("/incidents/{id}/ack", acknowledge, methods=["POST"], name="acknowledgeIncident"),
        Route("/incidents/{id}/resolve", resolve, methods=["POST"], name="resolveIncident"),
    ]
