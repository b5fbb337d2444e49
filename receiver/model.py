"""Frozen values passed between the stages of the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Operation(StrEnum):
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class FailureKind(StrEnum):
    FAILED = "failed"
    STUCK = "stuck"


class Source(StrEnum):
    WEBHOOK = "webhook"
    SWEEP = "sweep"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One Supabase Database Webhook call, as sent (rows are kept whole)."""

    operation: Operation
    schema: str
    table: str
    record: Mapping[str, Any] | None
    old_record: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """What `parameters.error` and `parameters.errorContext` say about a failure."""

    message: str
    error_type: str | None = None
    timestamp: str | None = None
    context_message: str | None = None
    context_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """A generation that became failed (or got stuck), classified and fingerprinted."""

    idempotency_key: str
    generation_id: str
    kind: FailureKind
    source: Source
    category: str
    fingerprint: str
    message: str
    error_type: str | None
    model_id: str | None
    user_id: str | None
    session_id: str | None
    occurred_at: str | None
    # Scalar record columns (and category/error_type), for routing and silences.
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ignored:
    """A webhook call that is acknowledged but is not a new failure."""

    reason: str
