"""Admin API of the alerting engine: silences and the outbox's dead letter.

These routes live under the `/api/admin` mount, whose `AdminOnly` check needs
`Authorization: Bearer $FAILWATCH_ADMIN_TOKEN` (401 without, 403 wrong, 404 when no
token is configured); a store that cannot answer is a 503 from the app's handler.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.engine.silences import Silence, SilenceRequest
from receiver.errors import BadParameter
from receiver.loops import failure_patterns, silences
from receiver.store import outbox
from receiver.timefmt import parse_iso
from receiver.web import api_models as m
from receiver.web import params
from receiver.web.context import services_of

MAX_BODY = 64 * 1024
MAX_ID = 2**63 - 1  # outbox ids are 64-bit integers in both stores


async def list_silences(request: Request) -> Response:
    services = services_of(request)
    include = request.query_params.get("expired", "false").lower() in ("1", "true", "yes")
    now = services.clock()
    found = await silences.listing(services.store, include_expired=include, now=now)
    return JSONResponse(m.Silences(silences=[_silence(s, now=now) for s in found]).body())


async def create_silence(request: Request) -> Response:
    services = services_of(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        return m.error_response(413, "body too large")
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return m.error_response(400, "body is not valid JSON")
    if not isinstance(raw, dict):
        return m.error_response(422, "expected an object with matchers, endsAt, comment, author")
    try:
        silence_request = SilenceRequest(
            matchers=raw.get("matchers", ()),
            starts_at=_time(raw.get("startsAt")),
            ends_at=_time(raw.get("endsAt"), field="endsAt", required=True),
            comment=raw.get("comment", ""),
            author=raw.get("author", ""),
        )
        now = services.clock()
        created = await silences.create(services.store, silence_request, now=now)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(p) for p in error["loc"]) or "body"
        return m.error_response(422, f"{field}: {error['msg']}")
    except ValueError as exc:
        return m.error_response(422, str(exc))
    return JSONResponse(_silence(created, now=now).body(), status_code=201)


async def delete_silence(request: Request) -> Response:
    services = services_of(request)
    done = await silences.expire(services.store, request.path_params["id"], now=services.clock())
    if not done:
        return m.error_response(404, "no running silence with that id")
    return JSONResponse(m.Expired(status="expired").body())


async def list_outbox(request: Request) -> Response:
    status = request.query_params.get("status", "dead")
    if status not in ("pending", "sent", "dead", "all"):
        return m.error_response(400, "status: one of pending, sent, dead, all")
    rows = await services_of(request).store.read(
        lambda tx: outbox.list_rows(tx, status=None if status == "all" else status, limit=200)
    )
    listed = [m.OutboxRow.model_validate(r.describe()) for r in rows]
    return JSONResponse(m.Outbox(notifications=listed).body())


async def retry_outbox(request: Request) -> Response:
    services = services_of(request)
    raw_id = request.path_params.get("id")
    if raw_id is not None and not (str(raw_id).isdigit() and int(raw_id) <= MAX_ID):
        return m.error_response(404, "no dead notification with that id")
    ids = None if raw_id is None else [int(raw_id)]
    count = await services.store.write(
        lambda tx: outbox.requeue_dead(tx, ids, now=services.clock())
    )
    if ids is not None and count == 0:
        return m.error_response(404, "no dead notification with that id")
    return JSONResponse(m.Requeued(requeued=count).body())


async def show_failure_patterns(request: Request) -> Response:
    services = services_of(request)
    query = request.query_params
    try:
        window, step, by = (
            params.WINDOW.read(query),
            params.STEP.read(query),
            params.STACK_BY.read(query),
        )
    except BadParameter as exc:
        error = m.ErrorResponse(error=str(exc), parameter=exc.name)
        return JSONResponse(error.body(), status_code=400)
    found = await failure_patterns.failure_patterns(
        services.store, window=window, step=step, by=by, now=services.clock()
    )
    return JSONResponse(
        m.FailurePatterns(
            window=found.window.value,
            step=found.step.value,
            by=found.by.value,
            buckets=[datetime.fromtimestamp(b, UTC) for b in found.buckets],
            series=[m.PatternSeries(key=k, counts=list(v)) for k, v in found.series],
            total=found.total,
            top_models=[m.KeyCount(key=c.key, count=c.count) for c in found.top_models],
            tops_since=datetime.fromtimestamp(found.tops_since, UTC),
            top_users=[m.KeyCount(key=c.key, count=c.count) for c in found.top_users],
            top_errors=[
                m.TopError(
                    fingerprint=e.fingerprint,
                    count=e.count,
                    category=e.category,
                    model_id=e.model_id,
                    message=e.message,
                )
                for e in found.top_errors
            ],
        ).body()
    )


def _time(value: object, *, field: str = "startsAt", required: bool = False) -> float | None:
    if value is None:
        if required:
            raise ValueError(f"{field}: required (ISO 8601 time)")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_iso(value)
        except ValueError:
            pass
    raise ValueError(f"{field}: expected an ISO 8601 time")


def _silence(silence: Silence, *, now: float) -> m.Silence:
    return m.Silence.model_validate(silence.describe(now=now))


def admin_routes() -> list[Route]:
    """Under the `/api/admin` mount (which checks the token); names are OpenAPI ids."""
    return [
        Route("/silences", list_silences, methods=["GET"], name="listSilences"),
        Route("/silences", create_silence, methods=["POST"], name="createSilence"),
        Route("/silences/{id}", delete_silence, methods=["DELETE"], name="expireSilence"),
        Route("/outbox", list_outbox, methods=["GET"], name="listOutbox"),
        Route(
            "/failure-patterns", show_failure_patterns, methods=["GET"], name="adminFailurePatterns"
        ),
        Route("/outbox/retry", retry_outbox, methods=["POST"], name="retryDeadNotifications"),
        Route("/outbox/{id}/retry", retry_outbox, methods=["POST"], name="retryDeadNotification"),
    ]
