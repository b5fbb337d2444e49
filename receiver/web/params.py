"""Query parameters of the APIs: read strictly, and described from the same spec.

Each parameter is declared once (name, bounds, default); handlers `read` it and the
OpenAPI document takes its `schema()`, so the two agree. A bad value is a
`BadParameter` naming it (→ 400). Integers are plain decimal digits within range (no
signs, spaces or exponents); ids are bounded printable text (PostgreSQL text cannot
hold NUL, and no id needs control characters); a parameter given twice is refused
rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from starlette.datastructures import QueryParams

from receiver.errors import BadParameter
from receiver.loops.failure_patterns import StackBy, Step, Window
from receiver.supabase.queries import StatusFilter
from receiver.timefmt import parse_iso

E = TypeVar("E", bound=StrEnum)


def _single(query: QueryParams, name: str) -> str | None:
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter(name, "given more than once")
    return values[0]


@dataclass(frozen=True, slots=True)
class IntParam:
    name: str
    default: int
    low: int
    high: int
    description: str

    def read(self, query: QueryParams) -> int:
        raw = _single(query, self.name)
        if raw is None:
            return self.default
        problem = f"expected a whole number from {self.low} to {self.high}"
        if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(self.high)):
            raise BadParameter(self.name, problem)
        value = int(raw)
        if not self.low <= value <= self.high:
            raise BadParameter(self.name, problem)
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "type": "integer",
            "minimum": self.low,
            "maximum": self.high,
            "default": self.default,
        }


@dataclass(frozen=True, slots=True)
class IdParam:
    name: str
    description: str
    max_chars: int = 128

    def read(self, query: QueryParams) -> str | None:
        raw = _single(query, self.name)
        if raw is None:
            return None
        if not raw or len(raw) > self.max_chars or not raw.isprintable():
            problem = f"expected an id of 1 to {self.max_chars} printable characters"
            raise BadParameter(self.name, problem)
        return raw

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": self.max_chars}


@dataclass(frozen=True, slots=True)
class ChoiceParam(Generic[E]):
    name: str
    options: type[E]
    default: E
    description: str

    def read(self, query: QueryParams) -> E:
        raw = _single(query, self.name)
        if raw is None:
            return self.default
        try:
            return self.options(raw)
        except ValueError:
            allowed = ", ".join(option.value for option in self.options)
            raise BadParameter(self.name, f"expected one of {allowed}") from None

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "enum": [option.value for option in self.options],
            "default": self.default.value,
        }


@dataclass(frozen=True, slots=True)
class TimeParam:
    name: str
    description: str

    def read(self, query: QueryParams) -> float | None:
        raw = _single(query, self.name)
        if raw is None:
            return None
        try:
            if len(raw) > 40:
                raise ValueError(raw)
            return parse_iso(raw)
        except (ValueError, OverflowError, OSError):
            raise BadParameter(self.name, "expected an ISO 8601 time") from None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


QueryParam = IntParam | IdParam | ChoiceParam[Any] | TimeParam


# The parameters of the guide's API, as its endpoints read them.

STATUS = ChoiceParam(
    "status",
    options=StatusFilter,
    default=StatusFilter.ALL,
    description="failed rows, stuck rows (processing longer than FAILWATCH_STUCK_AFTER), or both",
)
HOURS_AGO = IntParam(
    "hoursAgo", default=24, low=1, high=720, description="only rows created within this many hours"
)
USER_ID = IdParam("userId", description="only this user's generations (generations.user_id)")
SESSION_ID = IdParam("sessionId", description="only generations of this session")
ADMIN_LIMIT = IntParam(
    "limit",
    default=100,
    low=1,
    high=1000,
    description="at most this many entries in byUser and in generations",
)
USER_LIMIT = IntParam(
    "limit", default=50, low=1, high=1000, description="at most this many generations"
)
HOURS_BACK = IntParam(
    "hoursBack",
    default=24,
    low=1,
    high=720,
    description="failures created within this many hours (get_failure_stats)",
)

SILENCES_LIMIT = IntParam(
    "limit", default=100, low=1, high=1000, description="at most this many silences"
)
SILENCES_CURSOR = IdParam("cursor", description="the `next` of the previous page", max_chars=512)

FAILED_GENERATIONS = (STATUS, HOURS_AGO, USER_ID, ADMIN_LIMIT)
FAILURE_STATS = (HOURS_BACK,)
OWN_FAILURES = (HOURS_AGO, SESSION_ID, USER_LIMIT)
SILENCE_PAGE = (SILENCES_LIMIT, SILENCES_CURSOR)


# The admin API's incidents.


class IncidentStates(StrEnum):
    ALL = "all"
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MUTED = "muted"
    RESOLVED = "resolved"


INCIDENT_STATE = ChoiceParam(
    "state",
    options=IncidentStates,
    default=IncidentStates.ALL,
    description="only incidents in this state",
)
CATEGORY = IdParam("category", description="only incidents of this category")
MODEL_ID = IdParam("modelId", description="only incidents of this model")
SINCE = TimeParam("since", description="only incidents still open at or after this time")
UNTIL = TimeParam("until", description="only incidents opened at or before this time")
TEXT = IdParam("q", description="text found in a label or an error message", max_chars=200)
INCIDENT_LIMIT = IntParam(
    "limit", default=50, low=1, high=500, description="at most this many incidents"
)
OFFSET = IntParam("offset", default=0, low=0, high=100_000, description="skip this many first")
INCIDENTS = (INCIDENT_STATE, CATEGORY, MODEL_ID, SINCE, UNTIL, TEXT, INCIDENT_LIMIT, OFFSET)

# The console's failure patterns (`GET /api/admin/failure-patterns`).
WINDOW = ChoiceParam(
    "window", options=Window, default=Window.DAY, description="the last 24 hours or 7 days"
)
STEP = ChoiceParam(
    "step",
    options=Step,
    default=Step.FIVE_MINUTES,
    description="bucket size (the console shows 1h for the 7-day window)",
)
STACK_BY = ChoiceParam(
    "by", options=StackBy, default=StackBy.CATEGORY, description="the key of each series"
)
FAILURE_PATTERNS = (WINDOW, STEP, STACK_BY)
