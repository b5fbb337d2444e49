"""Frozen values passed between the stages of the pipeline."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


class Operation(StrEnum):
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class FailureKind(StrEnum):
    FAILED = "failed"
    STUCK = "stuck"
    # A rate rule's alert (failure rate, spike, flatline, webhook path): it resolves when
    # the rule stops firing, not after quiet.
    CONDITION = "condition"


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
    # errorContext.code, and the HTTP status from errorContext.status / statusCode /
    # httpStatus (or a code that is one): the classifier's strongest signals.
    code: str | None = None
    status: int | None = None


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
    # The end user's prompt, cut short; only kept when `include_prompts` is on.
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A webhook call that is acknowledged but is not a new failure."""

    reason: str


class Reason(StrEnum):
    """Why a group is notified now (Alertmanager's reasons, plus Sentry's new error)."""

    FIRST = "first"
    NEW_FAILURES = "new_failures"
    NEW_ERROR = "new_error"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    # Someone acknowledged, muted or unmuted the incident: update its message, say so
    # in its thread. Only integrations that update in place are sent these.
    ACTION = "action"
    # Not a group's: the updates a receiver's notification budget held back.
    DIGEST = "digest"


# Who a notification may ping in Slack: everyone here, the whole channel, a user (U… or,
# in Enterprise Grid, W…) or a user group (S…). Validated wherever it is read, so that a
# mention is only ever one of these, never text from a failure.
_MENTION = re.compile(r"here|channel|[UWS][A-Z0-9]{2,31}")


def _mention(value: str) -> str:
    if not _MENTION.fullmatch(value):
        raise ValueError(
            f"{value[:40]!r} is not a mention: write here, channel, a Slack user id "
            "(U… or W…) or a user-group id (S…)"
        )
    return value


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


Mention = Annotated[str, AfterValidator(_mention)]
# A few: each is a ping, and all of them fit on the first line of a message.
MAX_MENTIONS = 10
Mentions = Annotated[
    tuple[Mention, ...], BeforeValidator(_one_or_many), Field(max_length=MAX_MENTIONS)
]


class ErrorCount(BaseModel):
    """One distinct error (by fingerprint) of a group, with how often it occurred."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    message: str
    error_type: str | None = None
    count: int
    new: bool = False
    # The first prompt seen with this error (only stored when `include_prompts` is on).
    sample_prompt: str | None = None


class IncidentMark(BaseModel):
    """The incident a notification is about, and what people did about it so far."""

    model_config = ConfigDict(frozen=True)

    id: str
    state: str  # open, acknowledged, muted, resolved
    acked_by: str | None = None
    acked_at: float | None = None
    muted_by: str | None = None
    muted_until: float | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None


class DigestEntry(BaseModel):
    """One group's updates that a receiver's budget held back, merged."""

    model_config = ConfigDict(frozen=True)

    title: str
    reason: Reason  # the latest held-back reason
    window_failures: int  # failures in the held-back updates, summed
    episode_failures: int


class Notification(BaseModel):
    """One flush of one group to one receiver: what a notifier renders and sends.

    `thread` carries what earlier flushes of the same episode left behind (a Slack
    channel and ts), so a notifier can update or reply instead of starting over; a
    notifier's `send` returns the refs to keep for later flushes. (E-mail needs none:
    its thread is derived from the incident id.)
    """

    model_config = ConfigDict(frozen=True)

    id: str
    receiver: str
    group_key: str
    episode: int
    sequence: int
    reason: Reason
    labels: dict[str, str]
    window_failures: int
    episode_failures: int
    users_affected: int
    first_seen: float
    last_seen: float
    created_at: float
    top_errors: tuple[ErrorCount, ...] = ()
    models: tuple[str, ...] = ()
    error_types: tuple[str, ...] = ()
    sample_generation_ids: tuple[str, ...] = ()
    # A few of the episode's user ids; never rendered. The delivery worker turns them
    # into `sample_user_emails` just before sending, only when `include_user_emails` is
    # on, so addresses never land in the state store.
    sample_user_ids: tuple[str, ...] = ()
    sample_user_emails: tuple[str, ...] = ()
    silenced: int = 0
    # An overflow group: how many groups it stands for, and the first few of their names.
    folded: int = 0
    folded_names: tuple[str, ...] = ()
    # A digest: the held-back updates it lists (the group fields above are empty).
    digest: tuple[DigestEntry, ...] = ()
    thread: dict[str, str] | None = None
    incident: IncidentMark | None = None
    # Whom this notification pings (`engine.notification.mentions_for`).
    mentions: Mentions = ()
    # For `action`: what was just done, as its thread reply says it.
    action: str | None = None

    @property
    def title(self) -> str:
        """`rate_limit on flux-pro`: the group in a few words."""
        category = self.labels.get("category", "failures")
        if self.digest:
            return f"digest of {len(self.digest)} held-back updates"
        if self.folded:
            return f"{category} on {self.folded} more {self.labels.get('overflow') or 'group'}s"
        model = self.labels.get("model_id")
        return f"{category} on {model}" if model else category

    @property
    def resolved(self) -> bool:
        return self.reason is Reason.RESOLVED
