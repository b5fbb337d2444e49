"""`POST /slack/interactions`, clicked in the Slack stand-in's signed payloads: each action
changes the incident, its message and its thread once; every forgery is a 401 and every
click that may not act is explained to the clicker alone — and changes nothing."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.config.settings import load_settings
from receiver.loops import silences
from receiver.loops.delivery import DeliveryWorker
from receiver.loops.incidents import IncidentFilter, list_incidents
from receiver.notifiers.registry import build_notifiers
from receiver.store import open_store
from receiver.store.tx import Tx
from receiver.web.app import create_app
from tests.loops.harness import Engine, engine
from tests.standins.slack import Message, SlackStandIn
from tests.store.conftest import state_url

pytestmark = pytest.mark.anyio
URL = "/slack/interactions"
__all__ = ["state_url"]  # the store fixture: the first test runs on SQLite and PostgreSQL


@dataclass
class Rig:
    e: Engine
    slack: SlackStandIn
    client: httpx.AsyncClient

    async def click(self, message: Message, action_id: str, **kw: Any) -> httpx.Response:
        kw.setdefault("timestamp", int(self.e.clock()))
        body, headers = self.slack.interaction(message, action_id, **kw)
        return await self.post(body, headers)

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        # As bytes: a forged header may hold any byte a raw HTTP request can.
        raw = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
        response = await self.client.post(URL, content=body, headers=raw)
        await self.e.settle()
        return response

    def message(self) -> Message:
        """The incident's message as it is now (a copy: the stand-in's own changes)."""
        (only,) = self.slack.messages.values()
        return copy.deepcopy(only)

    async def actions(self) -> int:
        def count(tx: Tx) -> int:
            row = tx.fetchone("SELECT count(*) FROM actions")
            return int(row[0]) if row else 0

        return await self.e.store.read(count)

    async def state(self) -> str:
        (incident,) = await list_incidents(self.e.store, IncidentFilter(), now=self.e.clock())
        for state in ("open", "acknowledged", "muted", "resolved"):
            query = IncidentFilter(state=state)
            if await list_incidents(self.e.store, query, now=self.e.clock()):
                return state
        raise AssertionError(incident)


@asynccontextmanager
async def rig(
    tmp_path: Path, slack: SlackStandIn, state_url: str | None = None, **overrides: Any
) -> AsyncIterator[Rig]:
    options: dict[str, Any] = {
        "slack_bot_token": slack.token,
        "slack_channel": "#alerts",
        "slack_api_url": slack.api_url,
        # The stand-in's secret second: a rotation accepts both.
        "slack_signing_secret": f"the-old-secret,{slack.signing_secret}",
        "slack_team_id": slack.team_id,
        "resolve_after": "10h",
        **overrides,
    }
    notifiers = build_notifiers(load_settings(**options))
    async with engine(tmp_path, state_url=state_url, notifiers=notifiers, **options) as e:
        # Whole seconds, as in Slack's signed timestamps.
        e.clock.now = float(int(time.time()))
        app = create_app(e.settings, store=e.store, notifiers=notifiers, clock=e.clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://failwatch") as client:
            for _ in range(3):
                await e.fail()
            e.clock.advance(31)
            await e.settle()
            assert len(slack.messages) == 1
            yield Rig(e, slack, client)


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackStandIn]:
    with SlackStandIn() as server:
        yield server


@pytest.fixture
def slack(slack_server: SlackStandIn) -> SlackStandIn:
    slack_server.reset()
    return slack_server


def ids(message: Message) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


async def test_acknowledge_updates_the_message_and_thread_exactly_once(
    tmp_path: Path, slack: SlackStandIn, state_url: str | None
) -> None:
    async with rig(tmp_path, slack, state_url) as r:
        first = r.message()
        assert ids(first) == ["failwatch.ack", "failwatch.mute", "failwatch.resolve"]
        body, headers = slack.interaction(first, "failwatch.ack", timestamp=int(r.e.clock()))
        answer = await r.post(body, headers)
        assert (answer.status_code, answer.content) == (200, b"")
        message = r.message()
        assert len(message.history) == 1
        assert ids(message) == ["failwatch.mute", "failwatch.resolve"]
        assert "Acknowledged by alice" in str(message.blocks)
        assert [reply.text for reply in message.replies] == [
            f"Acknowledged by alice · {_hhmm(r.e.clock())}"
        ]
        # Slack retries the request; the user clicks again (a new action_ts, from an
        # older copy of the message): the message and the thread stay as they are.
        assert (await r.post(body, headers)).status_code == 200
        assert (await r.click(first, "failwatch.ack")).status_code == 200
        assert len(r.message().history) == 1
        assert len(r.message().replies) == 1
        assert await r.actions() == 1
        slack.wait_for(lambda s: len(s.responses) == 1)
        assert slack.responses[0]["response_type"] == "ephemeral"
        assert slack.responses[0]["text"].startswith("Already acknowledged by alice at ")
        assert await r.state() == "acknowledged"


async def test_mute_makes_a_silence_and_unmute_expires_it(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    async with rig(tmp_path, slack) as r:
        await r.click(r.message(), "failwatch.mute", option="4h", user_id="U0BOB", user_name="bob")
        (silence,) = await silences.listing(r.e.store, include_expired=False, now=r.e.clock())
        assert (silence.author, silence.comment) == ("slack:U0BOB", "muted from Slack")
        assert silence.ends_at == r.e.clock() + 4 * 3600
        message = r.message()
        assert ids(message) == ["failwatch.ack", "failwatch.unmute", "failwatch.resolve"]
        until = _hhmm(r.e.clock() + 4 * 3600)
        assert message.replies[-1].text == f"Muted until {until} by bob"
        assert await r.state() == "muted"
        # The post and the mute's update (chat.update + reply) took the channel's three
        # tokens; the unmute's two calls wait for two more.
        r.e.clock.advance(2)
        await r.click(message, "failwatch.unmute")
        assert await silences.listing(r.e.store, include_expired=False, now=r.e.clock()) == []
        assert ids(r.message()) == ["failwatch.ack", "failwatch.mute", "failwatch.resolve"]
        assert r.message().replies[-1].text.startswith("Unmuted by alice")
        assert await r.state() == "open"
        assert slack.responses == []


async def test_resolve_ends_the_incident_and_old_buttons_then_explain(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    async with rig(tmp_path, slack) as r:
        before = r.message()
        await r.click(before, "failwatch.resolve")
        message = r.message()
        assert ids(message) == []
        assert message.header.startswith(":white_check_mark: RESOLVED")
        assert "Resolved by alice" in message.replies[-1].text
        assert await r.state() == "resolved"
        updates = len(message.history)
        await r.click(before, "failwatch.ack")
        await r.click(before, "failwatch.resolve")
        assert len(r.message().history) == updates
        slack.wait_for(lambda s: len(s.responses) == 2)
        assert all("already resolved" in answer["text"] for answer in slack.responses)
        assert await r.actions() == 1
        # The next failure opens a new incident, with a new message.
        await r.e.fail()
        r.e.clock.advance(31)
        await r.e.settle()
        assert len(slack.messages) == 2


async def test_forgeries_are_401_and_change_nothing(tmp_path: Path, slack: SlackStandIn) -> None:
    async with rig(tmp_path, slack) as r:
        body, good = slack.interaction(r.message(), "failwatch.ack", timestamp=int(r.e.clock()))
        now = int(r.e.clock())
        forged = [
            {},  # no signature at all
            {**good, "x-slack-signature": "v0=" + "0" * 64},  # wrong signature
            slack.sign(body, timestamp=now, secret="not-the-secret"),  # another app's secret
            slack.sign(body, timestamp=now - 301),  # stale: older than five minutes
            slack.sign(body, timestamp=now + 301),  # from the future
            {**good, "x-slack-request-timestamp": "soon"},  # non-numeric timestamp
            {**good, "x-slack-request-timestamp": "1_7e9"},
            {**good, "x-slack-request-timestamp": ""},
            {k: v for k, v in good.items() if k != "x-slack-request-timestamp"},
            {**good, "x-slack-signature": "v0=ÿ" + "0" * 63},  # not ASCII
            {**good, "x-slack-signature": "v1=" + good["x-slack-signature"][3:]},
        ]
        for headers in forged:
            answer = await r.post(body, headers)
            assert answer.status_code == 401, headers
        # The body must be the one signed.
        assert (await r.post(body + b"&x=1", good)).status_code == 401
        assert await r.actions() == 0
        assert r.message().history == []
        # The old secret of a rotation is still accepted.
        rotated = slack.sign(body, timestamp=now, secret="the-old-secret")
        assert (await r.post(body, rotated)).status_code == 200
        assert await r.actions() == 1


async def test_clicks_that_may_not_act_are_explained_and_change_nothing(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    async with rig(tmp_path, slack, slack_allowed_users=["U0ALICE"]) as r:
        message = r.message()
        await r.click(message, "failwatch.ack", team_id="T0ELSEWHERE")
        await r.click(message, "failwatch.ack", user_id="U0MALLORY")
        # Alice, of the team, may.
        await r.click(message, "failwatch.mute", option="1h")
        slack.wait_for(lambda s: len(s.responses) == 2)
        texts = [answer["text"] for answer in slack.responses]
        assert "workspace" in texts[0]
        assert "not on failwatch's list" in texts[1]
        assert await r.actions() == 1
        assert await r.state() == "muted"


async def test_payloads_failwatch_does_not_handle_are_acknowledged_and_ignored(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    async with rig(tmp_path, slack) as r:
        now = int(r.e.clock())
        bodies = [
            b"",
            b"payload=not-json",
            b"payload=%5B1%2C2%5D",  # a list
            b'payload={"type":"block_actions","actions":[]}',
        ]
        for body in bodies:
            assert (await r.post(body, slack.sign(body, timestamp=now))).status_code == 200
        # No Slack request is anything but UTF-8: whatever signs it, it is not Slack.
        assert (
            await r.post(b"\xff\xfe", slack.sign(b"\xff\xfe", timestamp=now))
        ).status_code == 401
        other = await r.click(r.message(), "failwatch.ack", payload_type="view_submission")
        assert other.status_code == 200
        # A mute menu whose block is not an incident.
        blocks = [
            {**b, "block_id": "nope"} if b["type"] == "actions" else b for b in r.message().blocks
        ]
        await r.click(replace(r.message(), blocks=blocks), "failwatch.mute", option="1h")
        assert await r.actions() == 0
        assert r.message().history == []


async def test_a_body_over_64_kib_is_413(tmp_path: Path, slack: SlackStandIn) -> None:
    async with rig(tmp_path, slack) as r:
        body = b"payload=" + b"x" * (64 * 1024)
        answer = await r.post(body, slack.sign(body, timestamp=int(r.e.clock())))
        assert answer.status_code == 413


async def test_without_a_signing_secret_the_endpoint_is_off(tmp_path: Path) -> None:
    app = create_app(load_settings(state_url=f"sqlite:///{tmp_path}/fw.db"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://failwatch") as client:
        answer = await client.post(URL, content=b"payload=%7B%7D")
    assert answer.status_code == 404


def _hhmm(epoch: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(epoch))


async def test_three_replicas_one_click_is_one_silence_one_update_one_reply(
    tmp_path: Path, slack: SlackStandIn, state_url: str | None
) -> None:
    if state_url is None:
        pytest.skip("replicas share PostgreSQL; SQLite is one process by design")
    async with rig(tmp_path, slack, state_url) as r:
        stores = [open_store(state_url, pool_size=3) for _ in range(3)]
        for store in stores:
            await store.open()
        try:
            notifiers = build_notifiers(r.e.settings)
            apps = [
                create_app(r.e.settings, store=s, notifiers=notifiers, clock=r.e.clock)
                for s in stores
            ]
            clients = [
                httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://fw")
                for a in apps
            ]
            message = r.message()
            now = int(r.e.clock())
            # One click that Slack delivers to every replica (its retries), and clicks
            # by three people at once, each reaching another replica.
            once = slack.interaction(message, "failwatch.mute", option="1h", timestamp=now)
            others = [
                slack.interaction(
                    message, "failwatch.mute", option="4h", user_id=f"U{i}", timestamp=now
                )
                for i in range(3)
            ]
            posts = [
                client.post(URL, content=body, headers=headers)
                for client, (body, headers) in zip(clients * 2, [once] * 3 + others, strict=True)
            ]
            answers = await asyncio.gather(*posts)
            assert [a.status_code for a in answers] == [200] * 6
            workers = [
                DeliveryWorker(
                    store=s,
                    notifiers=notifiers,
                    settings=r.e.settings.delivery,
                    metrics=r.e.metrics,
                    clock=r.e.clock,
                )
                for s in stores
            ]
            for _ in range(3):
                await asyncio.gather(*(w.deliver_due() for w in workers))
            running = await silences.listing(r.e.store, include_expired=False, now=r.e.clock())
            assert len(running) == 1
            assert await r.actions() == 1
            assert len(r.message().history) == 1
            assert len(r.message().replies) == 1
            assert r.message().replies[0].text.startswith("Muted until ")
            for client in clients:
                await client.aclose()
        finally:
            for store in stores:
                await store.close()
