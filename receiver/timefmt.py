"""Times as people and APIs read them: ISO 8601 in UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> float:
    """Epoch seconds from an ISO 8601 time; a time without offset is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def hhmm(epoch: float) -> str:
    """`14:03 UTC`: enough within one incident."""
    return time.strftime("%H:%M UTC", time.gmtime(epoch))
