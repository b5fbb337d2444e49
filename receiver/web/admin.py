"""Admin API of the alerting engine: silences and the outbox's dead letter.

These routes live under the `/api/admin` mount, whose `AdminOnly` check needs
`Authorization: Bearer $FAILWATCH_ADMIN_TOKEN` (401 without, 403 wrong, 404 when no
token is configured); a store that cannot answer is a 503 from the app's handler.
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.engine.silences import Silence, SilenceRequest
from receiver.errors import BadParameter
from receiver.loops import failure_patterns, silences
from receiver.store import outbox
from receiver.text import unstorable
from receiver.timefmt import parse_iso
from receiver.web import api_models as m
from receiver.web import params
from receiver.web.context import services_of

MAX_BODY = 64 * 1024
MAX_ID = 2**63 - 1  # outbox ids are 64-bit integers in both stores
# Outbox ids as a path may spell them: ASCII digits ("²" is a digit to str.isdigit).
_OUTBOX_ID = re.compile(r"[0-9]{1,19}")
# Silence ids are UUIDs, as text.
_SILENCE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Errors name the fields as the API spells them.
_API_NAMES = {"starts_at": "startsAt", "ends_at": "endsAt"}


async def list_silences(request: Request) -> Response:
    services = services_of(request)
    query = request.query_params
    include = query.get("expired", "false").lower() in ("1", "true", "yes")
    limit = params.SILENCES_LIMIT.read(query)
    cursor = params.SILENCES_CURSOR.read(query)
    after = None if cursor is None else _after(cursor)
    now = services.clock()
    found = await silences.listing(
        services.store, include_expired=include, now=now, after=after, limit=limit
    )
    last = found[-1] if len(found) == limit else None
    page = m.Silences(
        silences=[_silence(s, now=now) for s in found],
        next=None if last is None else _cursor(last),
    )
    return JSONResponse(page.body())


def _cursor(silence: Silence) -> str:
    """Where the next page starts: opaque to clients, (starts_at, id) to us."""
    position = json.dumps([silence.starts_at, silence.id]).encode()
    return base64.urlsafe_b64encode(position).decode().rstrip("=")


def _after(cursor: str) -> tuple[float, str]:
    try:
        starts_at, silence_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * 4))
    except (ValueError, TypeError):
        raise BadParameter("cursor", "not a cursor this API gave") from None
    if not isinstance(silence_id, str) or not isinstance(starts_at, int | float):
        raise BadParameter("cursor", "not a cursor this API gave")
    if not math.isfinite(starts_at) or unstorable(silence_id) is not None:
        raise BadParameter("cursor", "not a cursor this API gave")
    return float(starts_at), silence_id


async def create_silence(request: Request) -> Response:
    services = services_of(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        return m.error_response(413, "body too large")
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError: bad UTF-8, bad JSON, an integer of more than 4,300 digits;
        # RecursionError: nesting deeper than the parser goes.
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
        created = await silences.create(
            services.store, silence_request, now=now, max_running=services.settings.max_silences
        )
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(_API_NAMES.get(str(p), str(p)) for p in error["loc"]) or "body"
        return m.error_response(422, f"{field}: {error['msg']}")
    except ValueError as exc:
        return m.error_response(422, str(exc))
    return JSONResponse(_silence(created, now=now).body(), status_code=201)


async def delete_silence(request: Request) -> Response:
    services = services_of(request)
    silence_id = request.path_params["id"]
    done = _SILENCE_ID.fullmatch(silence_id) is not None and await silences.expire(
        services.store, silence_id, now=services.clock()
    )
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
    if raw_id is not None and not (_OUTBOX_ID.fullmatch(raw_id) and int(raw_id) <= MAX_ID):
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
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ValueError(f"{field}: not a time between 1970 and 9999") from None
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
