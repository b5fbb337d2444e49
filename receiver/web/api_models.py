"""The JSON bodies failwatch answers with, as pydantic models.

Handlers build their responses from these models and `openapi.py` builds the OpenAPI
document from their JSON schemas, so the two cannot drift apart. Field names are
snake_case in Python and camelCase on the wire, like the guide's `byUser` and `hoursAgo`.
Responses forbid extra fields, so a field added to a response without its model fails
the schema check in the tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.responses import JSONResponse


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    def body(self) -> dict[str, object]:
        """The wire form: camelCase keys, JSON-ready values."""
        return self.model_dump(mode="json", by_alias=True)


class ErrorResponse(ApiModel):
    """Every 4xx/5xx of the APIs: what went wrong, and which query parameter if one did."""

    error: str
    parameter: str | None = Field(None, description="the query parameter at fault (400 only)")


def error_response(status: int, message: str, **headers: str) -> JSONResponse:
    """An API error in the one shape the OpenAPI document promises for all of them."""
    return JSONResponse(ErrorResponse(error=message).body(), status_code=status, headers=headers)


class UserRef(ApiModel):
    id: str | None = Field(description="generations.user_id (null for rows without a user)")
    email: str | None = Field(description="from auth.users or the Auth admin API; null if unknown")
    display_name: str | None
    username: str | None


class UserFailures(UserRef):
    total: int
    failed: int
    stuck: int


class Summary(ApiModel):
    failed: int
    stuck: int
    affected_users: int = Field(description="distinct user ids among the matching rows")


class AdminGeneration(ApiModel):
    id: str
    user: UserRef
    model_id: str | None
    status: str = Field(description="the row's status: failed, or processing when stuck")
    kind: Literal["failed", "stuck"]
    created_at: datetime
    age_minutes: float | None = Field(description="minutes since created_at, for stuck rows")
    error_message: str | None = Field(description="parameters->>'error'")
    error_type: str | None = Field(description="parameters->'errorContext'->>'type'")
    session_id: str | None
    session_name: str | None
    project_name: str | None


class FailedGenerations(ApiModel):
    """`GET /api/admin/failed-generations`: counts over every matching row; `byUser` and
    `generations` each hold at most `limit` entries."""

    status: Literal["all", "failed", "stuck"]
    hours_ago: int
    user_id: str | None
    limit: int
    stuck_after_minutes: float
    emails_from: Literal["auth.users", "auth_api"] | None = Field(
        description="where e-mail addresses came from; null when no source is available"
    )
    total: int
    summary: Summary
    by_user: list[UserFailures]
    generations: list[AdminGeneration]


class OwnFailure(ApiModel):
    id: str
    model_id: str | None
    status: Literal["failed"]
    created_at: datetime
    prompt: str | None
    error_message: str | None
    error_type: str | None
    session_id: str | None
    session_name: str | None
    project_name: str | None


class OwnFailures(ApiModel):
    """`GET /api/generations/failed`: the caller's own failed generations, newest first."""

    hours_ago: int
    session_id: str | None
    limit: int
    total: int = Field(description="every matching row, of which `generations` holds `limit`")
    generations: list[OwnFailure]


class ModelStats(ApiModel):
    model_id: str | None
    failure_count: int
    affected_users: int
    latest_failure: datetime
    categories: dict[str, int] = Field(description="failures of this model per error category")


class CategoryStats(ApiModel):
    category: str
    failure_count: int
    affected_users: int
    latest_failure: datetime


class FailureStats(ApiModel):
    """`GET /api/admin/failure-stats`: the guide's `get_failure_stats(hours_back)` per
    model, plus the same failures by error category."""

    hours_back: int
    total: int
    models: list[ModelStats]
    categories: list[CategoryStats]


class PatternSeries(ApiModel):
    key: str
    counts: list[int] = Field(description="failures per bucket, one per entry of `buckets`")


class KeyCount(ApiModel):
    key: str
    count: int


class TopError(ApiModel):
    fingerprint: str
    count: int
    category: str
    model_id: str | None
    message: str = Field(description="the text of the newest failure with this error")


class FailurePatterns(ApiModel):
    """`GET /api/admin/failure-patterns`: what the console's /failures page draws, from
    failwatch's own store."""

    window: str
    step: str
    by: str
    buckets: list[datetime] = Field(description="the start of each bucket, oldest first")
    series: list[PatternSeries]
    total: int
    top_models: list[KeyCount]
    tops_since: datetime = Field(
        description="users and errors are counted per UTC day, over the last day whatever "
        "the window: from the start of the UTC day that holds now - 24 h"
    )
    top_users: list[KeyCount]
    top_errors: list[TopError]


# The endpoints below are served by other modules; their models live here so that the
# OpenAPI document is generated from one place.


class WebhookPayload(BaseModel):
    """What a Supabase Database Webhook sends: the operation, where, and the row."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["INSERT", "UPDATE", "DELETE"]
    table: str = Field(min_length=1)
    schema_name: str = Field(alias="schema", min_length=1)
    record: dict[str, Any] | None = Field(description="the row after the change (null on DELETE)")
    old_record: dict[str, Any] | None = Field(None, description="the row before (UPDATE, DELETE)")


class WebhookResult(ApiModel):
    status: Literal["accepted", "duplicate", "ignored"]
    reason: str | None = Field(None, description="why an ignored call is not a new failure")


class WebhookError(ApiModel):
    error: str
    field: str | None = Field(None, description="the payload field at fault (422)")
    detail: str | None = None


class Health(ApiModel):
    status: Literal["ok"]
    version: str


class Readiness(ApiModel):
    status: Literal["ready", "unavailable"]
    store: Literal["ok", "unreachable"]
    loops: dict[str, str] = Field(
        description="each background loop (dispatcher, delivery): ok, or why it is stalled"
    )


class SilenceRequest(ApiModel):
    """A new silence. Matchers are Alertmanager-style strings."""

    matchers: list[str] = Field(
        min_length=1,
        max_length=20,
        description='e.g. model_id=flux-pro, category=~"rate_.*", user_id!=test',
    )
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime = Field(description="at most 90 days after startsAt")
    comment: str = Field(min_length=1, max_length=1000)
    author: str = Field(min_length=1, max_length=200)


class Silence(ApiModel):
    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    author: str
    created_at: datetime
    state: Literal["pending", "active", "expired"]


class Silences(ApiModel):
    silences: list[Silence]
    next: str | None = Field(
        None, description="pass as `cursor` for the next page; null on the last page"
    )


class Expired(ApiModel):
    status: Literal["expired"]


class OutboxNotification(ApiModel):
    id: str
    title: str
    reason: str
    window_failures: int


class OutboxRow(ApiModel):
    id: int
    status: Literal["pending", "sent", "dead"]
    receiver: str
    integration: str
    destination: str
    attempts: int
    created_at: datetime
    due_at: datetime
    last_error: str | None
    notification: OutboxNotification


class Outbox(ApiModel):
    notifications: list[OutboxRow]


class Requeued(ApiModel):
    requeued: int


IncidentStateName = Literal["open", "acknowledged", "muted", "resolved"]


class Incident(ApiModel):
    """One episode of one group: its counters and who acted on it."""

    id: str = Field(description="<group key>-<episode>")
    state: IncidentStateName
    labels: dict[str, str]
    category: str | None
    model_id: str | None
    receiver: str
    opened_at: datetime
    first_seen: datetime
    last_seen: datetime
    failures: int
    users_affected: int
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    muted_by: str | None
    muted_until: datetime | None
    silence_id: str | None
    resolved_by: str | None
    resolved_at: datetime | None


class Incidents(ApiModel):
    incidents: list[Incident]


class IncidentNotification(ApiModel):
    id: str
    reason: str
    action: str | None
    receiver: str
    integration: str
    status: Literal["pending", "sent", "dead"]
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


class IncidentAction(ApiModel):
    action: Literal["ack", "mute", "unmute", "resolve"]
    argument: str | None
    actor_id: str
    actor_name: str
    team: str | None
    source: Literal["slack", "api", "cli"]
    at: datetime


class IncidentDetail(Incident):
    """An incident with its timeline: the notifications about it, the actions on it."""

    notifications: list[IncidentNotification]
    actions: list[IncidentAction]


class IncidentActionRequest(ApiModel):
    """Who acts (recorded with the action); the body may be left out."""

    actor: str = Field("admin-api", min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")


class IncidentActionResult(ApiModel):
    """What the action did: `done`, or `unchanged` when the incident already was so."""

    outcome: Literal["done", "unchanged", "duplicate"]
    message: str
    incident: Incident
