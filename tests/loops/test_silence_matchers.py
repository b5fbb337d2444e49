"""A silence's matchers are stored as text (`str(matcher)`) and read back: escapes,
quotes and regexes survive the round trip through either store and still hold exactly
what they matched when the silence was made."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.engine.matchers import parse_matchers
from receiver.engine.silences import SilenceRequest
from receiver.loops import silences
from tests.loops.harness import engine

pytestmark = pytest.mark.anyio

WRITTEN = 'model_id=~"flux\\\\.pro", note="say \\"hi\\"", shard=~"[[:digit:]]+"'


async def test_escaped_matchers_survive_the_store_and_still_match(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        request = SilenceRequest.model_validate(
            {
                "matchers": [WRITTEN],
                "ends_at": e.clock() + 7200,
                "comment": "provider outage",
                "author": "oncall@example.com",
            }
        )
        assert request.matchers == parse_matchers(WRITTEN)
        await silences.create(e.store, request, now=e.clock())
        (stored,) = await silences.listing(e.store, include_expired=False, now=e.clock())
        assert stored.matchers == request.matchers

        await e.fail(model="flux.pro", note='say "hi"', shard="42")  # held
        await e.fail(model="fluxXpro", note='say "hi"', shard="42")  # the dot is literal
        await e.fail(model="flux.pro", note="say hi", shard="42")  # the quotes count
        await e.fail(model="flux.pro", note='say "hi"', shard="4x")  # digits only
        e.clock.advance(30)
        await e.settle()
        spoke = sorted((n.labels["model_id"], n.window_failures) for n in e.recorder.sent)
        assert spoke == [("flux.pro", 2), ("fluxXpro", 1)]
        assert await e.store.count_failures() == 4
