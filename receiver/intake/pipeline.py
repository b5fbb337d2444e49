"""The stage order, and the only place that knows it.

    bytes ─ ingest ─> WebhookEvent ─ filter ─> row ─ classify ─> category
          ─ fingerprint ─> Failure ─ (store, idempotent) ─> …

Each stage is a pure function; dropping an event is returning `Ignored`, not raising.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receiver.errors import InvalidPayload
from receiver.intake.classify import STUCK, Classifier, Verdict
from receiver.intake.classify_rules import DEFAULT_CLASSIFIER
from receiver.intake.filter import became_failed
from receiver.intake.fingerprint import fingerprint
from receiver.intake.ingest import error_details, parse_webhook, row_text
from receiver.model import ErrorDetails, Failure, FailureKind, Ignored, Source
from receiver.text import storable

# Kept for routing and silences; larger values are cut, structured ones left out.
_MAX_LABEL = 256
_MAX_MESSAGE = 4096
# A sample prompt is for recognising what users asked, not for reading it whole.
PROMPT_CHARS = 200
_ELLIPSIS = "\u2026"
# Columns that are never labels: large, or private to the end user.
_NOT_LABELS = frozenset({"parameters", "prompt", "negative_prompt"})
# A tuple, not `str | int | float`: that union is built anew at every call.
_SCALARS = (str, int, float)


def clean_text(text: str, limit: int) -> str:
    """Text that any store and any notifier can take: no NUL or lone surrogate (each
    becomes U+FFFD: JSON can spell them, PostgreSQL and UTF-8 cannot hold them), bounded
    length."""
    text = text[:limit]
    if text.isascii() and "\x00" not in text:  # the common case
        return text
    return storable(text)


def process_webhook(
    body: bytes,
    *,
    schema: str = "public",
    table: str = "generations",
    classifier: Classifier = DEFAULT_CLASSIFIER,
    include_prompt: bool = False,
) -> Failure | Ignored:
    """A webhook body → the failure it reports, or why it reports none."""
    event = parse_webhook(body)
    selected = became_failed(event, schema=schema, table=table)
    if isinstance(selected, Ignored):
        return selected
    return failure_from_row(
        selected,
        kind=FailureKind.FAILED,
        source=Source.WEBHOOK,
        classifier=classifier,
        include_prompt=include_prompt,
    )


def failure_from_row(
    record: Mapping[str, Any],
    *,
    kind: FailureKind,
    source: Source,
    classifier: Classifier = DEFAULT_CLASSIFIER,
    include_prompt: bool = False,
) -> Failure:
    """Classify and fingerprint one `generations` row (from a webhook or a sweep).

    The prompt is the end user's own text: it is kept (cut short) only when
    `include_prompt` says so, and otherwise never leaves this function.
    """
    generation_id = row_text(record, "id")
    if not generation_id:
        raise InvalidPayload("record.id", "missing; expected a string or number")
    details = error_details(record)
    model_id = row_text(record, "model_id")
    if kind is FailureKind.STUCK:
        category = STUCK
        message = clean_text(details.message, _MAX_MESSAGE) or "Generation stuck in processing"
        digest = fingerprint(category, model_id, message)
    else:
        identity = identify(details, model_id, classifier)
        category, message, digest = (
            identity.verdict.category,
            identity.message,
            identity.fingerprint,
        )
    labels = _labels(record)
    labels["category"] = category
    error_type = _clean_or_none(details.error_type)
    if error_type:
        labels["error_type"] = error_type
    return Failure(
        idempotency_key=idempotency_key(generation_id, kind, details),
        generation_id=clean_text(generation_id, _MAX_LABEL),
        kind=kind,
        source=source,
        category=category,
        fingerprint=digest,
        message=message,
        error_type=error_type,
        model_id=labels.get("model_id"),
        user_id=labels.get("user_id") or _clean_or_none(details.context_user_id),
        session_id=labels.get("session_id"),
        occurred_at=_clean_or_none(details.timestamp),
        labels=labels,
        prompt=_prompt(record) if include_prompt else None,
    )


@dataclass(frozen=True, slots=True)
class Identity:
    """What a failed generation's error is: its category (and why), its message as
    stored, and the fingerprint that tells it from other errors."""

    verdict: Verdict
    message: str
    fingerprint: str


def identify(
    details: ErrorDetails, model_id: str | None, classifier: Classifier = DEFAULT_CLASSIFIER
) -> Identity:
    """Classify and fingerprint an error, as the pipeline and `failwatch classify` do."""
    verdict = classifier.classify(details)
    message = clean_text(details.message, _MAX_MESSAGE)
    return Identity(verdict, message, fingerprint(verdict.category, model_id, message))


def _prompt(record: Mapping[str, Any]) -> str | None:
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    if len(prompt) <= PROMPT_CHARS:
        return clean_text(prompt, PROMPT_CHARS)
    return clean_text(prompt, PROMPT_CHARS - len(_ELLIPSIS)) + _ELLIPSIS


def idempotency_key(generation_id: str, kind: FailureKind, details: ErrorDetails) -> str:
    """Same generation, same kind, same error → same key, whoever reports it."""
    if kind is FailureKind.STUCK:
        occurrence = "stuck"
    elif details.timestamp:
        occurrence = details.timestamp
    else:
        digest = hashlib.sha256(details.message.encode("utf-8", "surrogatepass")).hexdigest()
        occurrence = "m" + digest[:16]
    key = f"{generation_id}:{kind.value}:{occurrence}"
    if len(key) > 200:  # bounded, so the unique index stays cheap
        key = f"{kind.value}:h{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"
    return clean_text(key, 300)


def _labels(record: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, value in record.items():
        if key in _NOT_LABELS or len(key) > 64:
            continue
        if isinstance(value, bool):
            labels[clean_text(key, 64)] = "true" if value else "false"
        elif isinstance(value, _SCALARS):
            labels[clean_text(key, 64)] = clean_text(str(value), _MAX_LABEL)
    return labels


def _clean_or_none(value: str | None) -> str | None:
    return clean_text(value, _MAX_LABEL) if value else None
