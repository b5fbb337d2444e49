"""`POST /webhooks/supabase`: authenticate, bound, parse, filter, store — then answer.

The 202 is sent only after the failure is committed; nothing is stored for any 4xx; no
notifier is ever called from here (the dispatcher and delivery worker do that later),
because pg_net gives up after a few seconds and never retries.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from receiver.errors import BodyTooLarge, InvalidPayload, NotJSONError, StoreUnavailable
from receiver.intake.pipeline import process_webhook
from receiver.loops.record import record_failure
from receiver.model import Failure, Ignored
from receiver.web.auth import matches_any, presented_secrets
from receiver.web.context import Services, services_of

log = logging.getLogger("failwatch.webhook")


async def receive_webhook(request: Request) -> Response:
    services = services_of(request)
    started = time.perf_counter()
    accepted = services.webhook_secrets
    if accepted and not matches_any(presented_secrets(request.headers), accepted):
        return _answer(services, started, 401, "unauthorized", {"error": "unauthorized"})
    try:
        body = await read_body(request, services.settings.max_body_bytes)
    except BodyTooLarge:
        limit = services.settings.max_body_bytes
        detail = {"error": f"body larger than {limit} bytes"}
        return _answer(services, started, 413, "too_large", detail)
    except ClientDisconnect:
        return _answer(services, started, 400, "invalid", {"error": "client disconnected"})
    settings = services.settings
    try:
        result = process_webhook(
            body,
            schema=settings.source_schema,
            table=settings.source_table,
            classifier=settings.classifier.classifier,
            include_prompt=settings.include_prompts,
        )
    except NotJSONError as exc:
        return _answer(services, started, 400, "invalid", {"error": str(exc)})
    except InvalidPayload as exc:
        detail = {"error": "not a Supabase webhook payload", "field": exc.field, "detail": str(exc)}
        return _answer(services, started, 422, "invalid", detail)
    if isinstance(result, Ignored):
        services.metrics.ignored.labels(result.reason).inc()
        return _answer(
            services, started, 202, "ignored", {"status": "ignored", "reason": result.reason}
        )
    return await _store(services, started, result)


async def _store(services: Services, started: float, failure: Failure) -> Response:
    try:
        received_at = services.clock()
        is_new = await services.store.write(lambda tx: record_failure(tx, failure, received_at))
    except StoreUnavailable as exc:
        log.error("state store unavailable", extra={"error": str(exc)})
        return _answer(
            services, started, 503, "unavailable", {"error": "state store unavailable"}, failure
        )
    if is_new:
        services.metrics.failures.labels(failure.category).inc()
        return _answer(services, started, 202, "accepted", {"status": "accepted"}, failure)
    return _answer(services, started, 202, "duplicate", {"status": "duplicate"}, failure)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(
    services: Services,
    started: float,
    status: int,
    outcome: str,
    content: dict[str, str],
    failure: Failure | None = None,
) -> Response:
    services.metrics.webhook_outcome[outcome].inc()
    fields: dict[str, object] = {
        "outcome": outcome,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if "reason" in content:
        fields["reason"] = content["reason"]
    if "field" in content:
        fields["field"] = content["field"]
    if failure is not None:
        fields.update(
            generation_id=failure.generation_id,
            category=failure.category,
            model_id=failure.model_id,
            fingerprint=failure.fingerprint,
        )
    log.log(logging.WARNING if status >= 400 else logging.INFO, "webhook", extra=fields)
    body = _CONSTANT_BODIES.get(outcome) or _encode(content).encode()
    return Response(body, status_code=status, media_type="application/json")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The two answers that carry nothing variable, encoded once.
_CONSTANT_BODIES = {
    outcome: _encode({"status": outcome}).encode() for outcome in ("accepted", "duplicate")
}
