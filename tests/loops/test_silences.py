"""Silences hold failures back and hand them over when they end."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.engine.matchers import Matcher
from receiver.engine.silences import SilenceRequest
from receiver.loops import silences
from receiver.model import Reason
from tests.loops.harness import engine

pytestmark = pytest.mark.anyio


def request(*matchers: str, ends_at: float) -> SilenceRequest:
    return SilenceRequest(
        matchers=tuple(Matcher.parse(m) for m in matchers),
        ends_at=ends_at,
        comment="provider outage",
        author="oncall@example.com",
    )


async def test_silenced_failures_are_stored_not_notified_then_released(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await silences.create(
            e.store, request("model_id=flux-pro", ends_at=e.clock() + 7200), now=e.clock()
        )
        for _ in range(5):
            await e.fail(model="flux-pro")
        await e.fail(model="sdxl")
        e.clock.advance(30)
        await e.settle()
        # Only the unsilenced model speaks; the silenced failures are stored all the same.
        assert [n.labels["model_id"] for n in e.recorder.sent] == ["sdxl"]
        assert await e.store.count_failures() == 6

        # While silenced, nothing more; when the silence ends the group says what it holds.
        e.clock.advance(3600)
        await e.settle()
        assert [n.labels["model_id"] for n in e.recorder.sent].count("flux-pro") == 0
        e.clock.advance(3600)
        await e.settle()
        e.clock.advance(30)
        await e.settle()
        flux = [n for n in e.recorder.sent if n.labels["model_id"] == "flux-pro"]
        assert [(n.reason, n.window_failures) for n in flux] == [(Reason.FIRST, 5)]


async def test_expiring_a_silence_releases_at_once(tmp_path: Path, state_url: str | None) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        silence = await silences.create(
            e.store, request('category=~"rate_.*"', ends_at=e.clock() + 7200), now=e.clock()
        )
        await e.fail(error="Rate limit exceeded")
        e.clock.advance(30)
        await e.settle()
        assert e.recorder.sent == []
        assert await silences.expire(e.store, silence.id, now=e.clock()) is True
        assert await silences.expire(e.store, silence.id, now=e.clock()) is False
        e.clock.advance(1)
        await e.settle()
        e.clock.advance(30)
        await e.settle()
        assert [n.window_failures for n in e.recorder.sent] == [1]


async def test_a_silence_on_a_non_group_label_only_holds_what_matches(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await silences.create(
            e.store, request("user_id=tester", ends_at=e.clock() + 600), now=e.clock()
        )
        await e.fail(user="tester")
        await e.fail(user="real-user")
        e.clock.advance(30)
        await e.settle()
        assert [(n.window_failures, n.users_affected, n.silenced) for n in e.recorder.sent] == [
            (1, 1, 1)
        ]


def test_bad_silences_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SilenceRequest(matchers=(), ends_at=10, comment="c", author="a")
    with pytest.raises(ValueError, match="after starts_at"):
        SilenceRequest(
            matchers=(Matcher.parse("a=b"),), starts_at=10, ends_at=5, comment="c", author="a"
        )
    with pytest.raises(ValueError, match="not a matcher"):
        SilenceRequest.model_validate(
            {"matchers": ["nonsense"], "ends_at": 10, "comment": "c", "author": "a"}
        )
