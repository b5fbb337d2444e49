"""Silences: matchers with a time window, an author and a comment.

Which silence mutes a failure, whether a silence is active, pending or expired, and what
makes a valid one are decided here; storing them is `store.silences`, and running the
decisions against the store is `loops.silences`. Silenced failures are stored and
counted, held back from notification, and handed to their group when the silence ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from receiver.engine.matchers import Matcher, Matchers, load_stored
from receiver.rows import SilenceRow
from receiver.text import unstorable
from receiver.timefmt import iso

MAX_DURATION = 90 * 86400.0
# The last second an ISO 8601 listing can show: 9999-12-31T23:59:59Z.
LAST_TIME = 253_402_300_799.0


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    comment: str
    author: str
    created_at: float
    expired_at: float | None

    def state(self, now: float) -> str:
        if self.expired_at is not None or self.ends_at <= now:
            return "expired"
        return "active" if self.starts_at <= now else "pending"

    @classmethod
    def from_row(cls, row: SilenceRow) -> Silence:
        return cls(
            id=row.id,
            matchers=tuple(load_stored(m) for m in row.matchers),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            comment=row.comment,
            author=row.author,
            created_at=row.created_at,
            expired_at=row.expired_at,
        )

    def to_row(self) -> SilenceRow:
        return SilenceRow(
            id=self.id,
            matchers=tuple(str(m) for m in self.matchers),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            comment=self.comment,
            author=self.author,
            created_at=self.created_at,
            expired_at=self.expired_at,
        )

    def describe(self, *, now: float) -> dict[str, object]:
        """The silence as the CLI and the admin API show it."""
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at),
            "comment": self.comment,
            "author": self.author,
            "createdAt": iso(self.created_at),
            "state": self.state(now),
        }


def muting(silences: Sequence[Silence], labels: Mapping[str, str], now: float) -> Silence | None:
    """The first active silence whose matchers all match these labels, if any."""
    return SilenceIndex(silences, now).muting(labels)


class SilenceIndex:
    """Which active silence mutes a failure, without trying every silence on every one.

    Most silences name a model or a category exactly (`model_id="flux-pro"`). Each silence
    with such an equality matcher is filed under its first one, (name, value); a failure's
    labels then pick out the few silences filed under values they have, and only those —
    plus the silences with no equality matcher, which are tried every time — are matched
    in full. The answer is the one a scan in order gives: the first silence, in the order
    given, whose matchers all match. Built once per batch of failures.
    """

    def __init__(self, silences: Sequence[Silence], now: float) -> None:
        self._silences = tuple(s for s in silences if s.state(now) == "active")
        self._filed: dict[tuple[str, str], list[int]] = {}
        self._always: list[int] = []
        for position, silence in enumerate(self._silences):
            key = next(((m.name, m.value) for m in silence.matchers if m.op == "="), None)
            if key is None:
                self._always.append(position)
            else:
                self._filed.setdefault(key, []).append(position)
        self._names = {name for name, _ in self._filed}

    def __len__(self) -> int:
        return len(self._silences)

    def muting(self, labels: Mapping[str, str]) -> Silence | None:
        candidates = list(self._always)
        for name in self._names:
            candidates += self._filed.get((name, labels.get(name, "")), ())
        for position in sorted(candidates):
            silence = self._silences[position]
            if all(m.matches(labels) for m in silence.matchers):
                return silence
        return None


class SilenceRequest(BaseModel):
    """A new silence as the API and the CLI accept it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matchers: Matchers = Field(min_length=1, max_length=20)
    starts_at: float | None = None
    ends_at: float
    comment: str = Field(min_length=1, max_length=1000)
    author: str = Field(min_length=1, max_length=200)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _a_real_time(cls, value: float | None) -> float | None:
        # NaN passes every comparison below and sorts above every time in PostgreSQL:
        # it made a silence that never ended and never showed.
        if value is not None and not (math.isfinite(value) and 0 <= value <= LAST_TIME):
            raise ValueError("not a time between 1970 and 9999")
        return value

    @field_validator("comment", "author")
    @classmethod
    def _storable(cls, value: str) -> str:
        if (reason := unstorable(value)) is not None:
            raise ValueError(f"cannot hold {reason}")
        return value

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def new_silence(request: SilenceRequest, *, silence_id: str, now: float) -> Silence:
    """The silence a request makes at `now`; ValueError when its window is not valid."""
    starts = request.starts_at if request.starts_at is not None else now
    if request.ends_at <= now:
        raise ValueError("endsAt must be in the future")
    if request.ends_at - starts > MAX_DURATION:
        raise ValueError("endsAt: a silence may last at most 90 days")
    return Silence(
        id=silence_id,
        matchers=request.matchers,
        starts_at=starts,
        ends_at=request.ends_at,
        comment=request.comment,
        author=request.author,
        created_at=now,
        expired_at=None,
    )
