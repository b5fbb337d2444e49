"""`POST /webhooks/supabase`: authenticate, bound, parse, filter, store — then answer.

The 202 is sent only after the failure is committed; nothing is stored for any 4xx; no
notifier is ever called from here (the dispatcher and delivery worker do that later),
because pg_net gives up after a few seconds and never retries.

Every call pg_net makes comes here, so this is a plain ASGI app rather than a Starlette
request handler: no `Request`, `Response` or exception-wrapping objects per call, the
settings it needs read once. Failures, 4xx and 5xx get an `info`/`warning` line each;
ignored calls (most calls, when the trigger sends every update) are logged at `debug`
and summed up in one `info` line a minute by `log_ignored_summaries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping, MutableSequence
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

from receiver.errors import BodyTooLarge, InvalidPayload, NotJSONError, StoreUnavailable
from receiver.intake.pipeline import process_webhook
from receiver.logs import log_fields
from receiver.loops.record import record_failure
from receiver.model import Failure, Ignored
from receiver.web.auth import matches_any, presented_secrets
from receiver.web.context import Services

log = logging.getLogger("failwatch.webhook")

SUMMARY_SECONDS = 60.0


class ClientGone(Exception):
    """The client disconnected before its body was read."""


class IgnoredTally:
    """Ignored calls by reason since the last summary line."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, reason: str) -> None:
        self._counts[reason] = self._counts.get(reason, 0) + 1

    def take(self) -> dict[str, int]:
        """The counts so far; the tally starts again from zero."""
        counts, self._counts = self._counts, {}
        return counts


def ignored_summary(counts: Mapping[str, int]) -> str:
    """`ignored 12,304 webhooks: not_failed 12,300, other_table 4` (most frequent first)."""
    total = sum(counts.values())
    reasons = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    noun = "webhook" if total == 1 else "webhooks"
    return f"ignored {total:,} {noun}: " + ", ".join(f"{r} {n:,}" for r, n in reasons)


async def log_ignored_summaries(
    tally: IgnoredTally, stop: asyncio.Event, *, seconds: float = SUMMARY_SECONDS
) -> None:
    """One `info` line every `seconds` while calls are being ignored, and a last one for
    the calls since then when `stop` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        counts = tally.take()
        if counts:
            log.info(ignored_summary(counts), extra={"ignored": dict(counts)})


class WebhookEndpoint:
    """The ASGI app of `POST /webhooks/supabase` (the router checks the method)."""

    # The route label of failwatch_request_duration_seconds (`RequestTiming`).
    __name__ = "receive_webhook"

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.tally = IgnoredTally()
        self._services = services
        self._secrets = services.webhook_secrets
        self._limit = settings.max_body_bytes
        self._schema = settings.source_schema
        self._table = settings.source_table
        self._classifier = settings.classifier.classifier
        self._include_prompt = settings.include_prompts
        self._outcomes = services.metrics.webhook_outcome

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = scope["headers"]
        if self._secrets and not matches_any(presented_secrets(headers), self._secrets):
            await self._answer(send, started, 401, "unauthorized", {"error": "unauthorized"})
            return
        try:
            body = await _read_body(receive, headers, self._limit)
        except BodyTooLarge:
            detail = {"error": f"body larger than {self._limit} bytes"}
            await self._answer(send, started, 413, "too_large", detail)
            return
        except ClientGone:
            await self._answer(send, started, 400, "invalid", {"error": "client disconnected"})
            return
        try:
            result = process_webhook(
                body,
                schema=self._schema,
                table=self._table,
                classifier=self._classifier,
                include_prompt=self._include_prompt,
            )
        except NotJSONError as exc:
            await self._answer(send, started, 400, "invalid", {"error": str(exc)})
            return
        except InvalidPayload as exc:
            detail = {"error": "not a Supabase webhook payload", "field": exc.field}
            await self._answer(send, started, 422, "invalid", detail | {"detail": str(exc)})
            return
        if isinstance(result, Ignored):
            await self._ignored(send, started, result.reason)
            return
        await self._store(send, started, result)

    async def _ignored(self, send: Send, started: float, reason: str) -> None:
        self._services.metrics.ignored_reason(reason).inc()
        self._outcomes["ignored"].inc()
        self.tally.add(reason)
        if log.isEnabledFor(logging.DEBUG):
            fields = _fields("ignored", 202, started) | {"reason": reason}
            log.debug("webhook", extra=fields)
        await _send_json(send, 202, _encode({"status": "ignored", "reason": reason}))

    async def _store(self, send: Send, started: float, failure: Failure) -> None:
        services = self._services
        try:
            received_at = services.clock()
            # One transaction: a later report of a stored failure fills in what it lacked.
            is_new = await services.store.write(lambda tx: record_failure(tx, failure, received_at))
        except StoreUnavailable as exc:
            log.error("state store unavailable", extra={"error": str(exc)})
            content = {"error": "state store unavailable"}
            await self._answer(send, started, 503, "unavailable", content, failure)
            return
        if is_new:
            services.metrics.failure_category(failure.category).inc()
            await self._answer(send, started, 202, "accepted", {"status": "accepted"}, failure)
        else:
            await self._answer(send, started, 202, "duplicate", {"status": "duplicate"}, failure)

    async def _answer(
        self,
        send: Send,
        started: float,
        status: int,
        outcome: str,
        content: dict[str, str],
        failure: Failure | None = None,
    ) -> None:
        """Count, log one line and send the answer of every outcome but `ignored`."""
        self._outcomes[outcome].inc()
        fields = _fields(outcome, status, started)
        if "field" in content:
            fields["field"] = content["field"]
        if failure is not None:
            fields["generation_id"] = failure.generation_id
            fields["category"] = failure.category
            fields["model_id"] = failure.model_id
            fields["fingerprint"] = failure.fingerprint
        log_fields(log, logging.WARNING if status >= 400 else logging.INFO, "webhook", fields)
        body = _CONSTANT_BODIES.get(outcome) or _encode(content)
        await _send_json(send, status, body)


def _fields(outcome: str, status: int, started: float) -> dict[str, object]:
    return {
        "outcome": outcome,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }


async def read_body(request: Request, limit: int) -> bytes:
    """A Starlette handler's body, at most `limit` bytes (`BodyTooLarge` beyond, by its
    Content-Length or as it streams in; `ClientDisconnect` if the client goes away)."""
    try:
        return await _read_body(request.receive, request.scope["headers"], limit)
    except ClientGone:
        raise ClientDisconnect from None


async def _read_body(receive: Receive, headers: list[tuple[bytes, bytes]], limit: int) -> bytes:
    for name, value in headers:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise BodyTooLarge
            break
    chunks: MutableSequence[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            if not chunks:  # the whole body in one message: the usual case
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _encode(content: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(content).encode()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The answers that carry nothing variable, encoded once.
_CONSTANT_BODIES = {
    "accepted": _encode({"status": "accepted"}),
    "duplicate": _encode({"status": "duplicate"}),
    "unauthorized": _encode({"error": "unauthorized"}),
}
