from __future__ import annotations

import asyncio
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from receiver.errors import ConfigError, DeliveryError
from receiver.model import ErrorCount, Notification, Reason
from receiver.notifiers import render
from receiver.notifiers.base import Notifier
from receiver.notifiers.render.blocks import slack_mention
from receiver.notifiers.slack import SlackNotifier
from tests.notifiers.samples import later, notification
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio


def bot(slack: SlackStandIn, channel: str = "#alerts") -> SlackNotifier:
    return SlackNotifier(
        bot_token=SecretStr(slack.token), channel=channel, api_url=slack.api_url, timeout=5
    )


def webhook(slack: SlackStandIn) -> SlackNotifier:
    return SlackNotifier(webhook_url=SecretStr(slack.webhook_url), timeout=5)


async def send_episode(
    notifier: SlackNotifier, flushes: list[Notification]
) -> list[dict[str, str] | None]:
    """Send flushes in order, feeding each the refs the previous one returned."""
    refs: dict[str, str] | None = None
    returned: list[dict[str, str] | None] = []
    for flush in flushes:
        result = await notifier.send(flush.model_copy(update={"thread": refs}))
        refs = dict(result) if result is not None else None
        returned.append(refs)
    return returned


async def test_an_episode_is_one_message_updated_in_place_with_thread_replies(
    slack: SlackStandIn,
) -> None:
    notifier = bot(slack)
    flushes = [
        notification(),
        later(2, Reason.NEW_FAILURES),
        later(3, Reason.NEW_ERROR),
        later(4, Reason.RESOLVED),
    ]
    returned = await send_episode(notifier, flushes)

    first = returned[0]
    assert first is not None
    assert list(slack.messages) == [first["ts"]]
    message = slack.messages[first["ts"]]
    assert returned == [{"channel": slack.channel_id("alerts"), "ts": message.ts}] * 4
    # Three updates, each keeping what the message said before.
    assert [revision.blocks[0]["text"]["text"] for revision in message.history] == [
        ":hourglass_flowing_sand: 37 failures · rate_limit · flux-pro",
        ":hourglass_flowing_sand: 49 failures · rate_limit · flux-pro",
        ":hourglass_flowing_sand: 61 failures · rate_limit · flux-pro",
    ]
    assert message.header == ":white_check_mark: RESOLVED · rate_limit · flux-pro"
    assert [reply.text.splitlines()[0] for reply in message.replies] == [
        "+12 failures (49 in episode) since the last update.",
        "+12 failures (61 in episode), including a new error.",
        ":white_check_mark: Resolved: no new failures for 34 min (61 failures in this episode).",
    ]
    assert "Upstream returned 503" in message.replies[1].text
    assert [call.method for call in slack.calls] == ["chat.postMessage"] + [
        "chat.update",
        "chat.postMessage",
    ] * 3


async def test_an_open_incident_carries_its_category_colour_until_resolved(
    slack: SlackStandIn,
) -> None:
    notifier = bot(slack)
    first = await notifier.send(notification())
    assert first is not None
    message = slack.messages[first["ts"]]
    (attachment,) = message.attachments
    assert attachment["color"] == "#9a6700"  # rate_limit's amber
    assert attachment["blocks"][0]["elements"][0]["text"].startswith("Too many requests")
    await notifier.send(later(2, Reason.NEW_FAILURES).model_copy(update={"thread": first}))
    assert message.attachments[0]["color"] == "#9a6700"
    await notifier.send(later(4, Reason.RESOLVED).model_copy(update={"thread": first}))
    assert message.attachments == []
    webhook_notifier = webhook(slack)
    await webhook_notifier.send(notification())
    assert slack.webhook_messages[0]["attachments"][0]["color"] == "#9a6700"


async def test_repeat_posts_a_fresh_top_level_message(slack: SlackStandIn) -> None:
    notifier = bot(slack)
    first, repeat = await send_episode(notifier, [notification(), later(5, Reason.REPEAT)])
    assert first is not None
    assert repeat is not None
    assert repeat["ts"] != first["ts"]
    assert repeat["channel"] == first["channel"]
    assert set(slack.messages) == {first["ts"], repeat["ts"]}
    assert slack.messages[first["ts"]].history == []
    assert slack.messages[repeat["ts"]].header.startswith(":hourglass_flowing_sand: 61 failures")


async def test_a_message_that_cannot_be_updated_any_more_is_posted_anew(
    slack: SlackStandIn,
) -> None:
    notifier = bot(slack)
    gone = {"channel": slack.channel_id("alerts"), "ts": "1700000000.000001"}
    refs = await notifier.send(later(2, Reason.NEW_FAILURES, thread=gone))
    assert refs is not None
    assert refs["ts"] != gone["ts"]
    assert list(slack.messages) == [refs["ts"]]
    assert [call.method for call in slack.calls] == ["chat.update", "chat.postMessage"]


async def test_several_channels_keep_their_own_messages(slack: SlackStandIn) -> None:
    alerts, models = bot(slack, "#alerts"), bot(slack, "#model-team")
    assert (alerts.destination, models.destination) == ("slack:#alerts", "slack:#model-team")
    a = await alerts.send(notification())
    b = await models.send(notification())
    assert a is not None
    assert b is not None
    assert a["channel"] != b["channel"]
    assert {m.channel for m in slack.messages.values()} == {a["channel"], b["channel"]}


async def test_webhook_mode_posts_a_new_message_per_flush(slack: SlackStandIn) -> None:
    notifier = webhook(slack)
    returned = await send_episode(notifier, [notification(), later(2, Reason.NEW_FAILURES)])
    assert returned == [None, None]
    headers = [body["blocks"][0]["text"]["text"] for body in slack.webhook_messages]
    assert headers == [
        ":hourglass_flowing_sand: 37 failures · rate_limit · flux-pro",
        ":hourglass_flowing_sand: 49 failures · rate_limit · flux-pro",
    ]
    assert all(body["text"] for body in slack.webhook_messages)
    assert notifier.destination.startswith("slack-webhook:")
    assert slack.webhook_url not in notifier.destination
    assert slack.webhook_url.rsplit("/", 1)[1] not in repr(notifier)


async def test_what_arrives_at_slack_cannot_ping_or_link(slack: SlackStandIn) -> None:
    evil = "<!channel> <@U024BE7LH> <http://evil.example|click>"
    n = notification(
        labels={"category": "rate_limit", "model_id": f"flux {evil}"},
        top_errors=(ErrorCount(fingerprint="x", message=f"boom {evil}", count=1, new=True),),
    )
    await bot(slack).send(n)
    await bot(slack).send(later(2, Reason.NEW_ERROR, top_errors=n.top_errors, labels=n.labels))
    await webhook(slack).send(n)
    bodies = [call.body for call in slack.calls]
    assert len(bodies) == 3
    assert all(call.status == 200 for call in slack.calls)
    for body in bodies:
        sent = json.dumps({k: body.get(k) for k in ("text", "blocks")}, ensure_ascii=False)
        assert "<" not in sent
        assert ">" not in sent
        assert "&lt;!channel&gt;" in sent


MENTIONS = ("here", "U0ALICE", "W0GRID", "S0ONCALL")
PINGS = "<!here> <@U0ALICE> <@W0GRID> <!subteam^S0ONCALL>"


def pings_in(body: object) -> list[str]:
    """Every `<…>` Slack would read as markup anywhere in what was sent."""
    return re.findall(r"<[^<>]*>", json.dumps(body, ensure_ascii=False))


async def test_bot_mode_pings_on_the_first_message_and_a_new_error_only(
    slack: SlackStandIn,
) -> None:
    evil = "<!channel> <@U024BE7LH>"
    flushes = [
        notification(mentions=MENTIONS),
        later(2, Reason.NEW_FAILURES),
        later(3, Reason.NEW_ERROR, mentions=MENTIONS),
    ]
    flushes = [
        f.model_copy(update={"labels": {"category": "rate_limit", "model_id": f"flux {evil}"}})
        for f in flushes
    ]
    await send_episode(bot(slack), flushes)
    [message] = slack.messages.values()
    first = message.history[0]
    # The first message: the mentions open its text and its first section, in Slack's
    # syntax; the model id's would-be pings stay escaped.
    assert first.text.splitlines()[0] == PINGS
    assert first.blocks[1]["text"]["text"].splitlines()[0] == PINGS
    post, update_1, reply_1, update_2, reply_2 = [call.body for call in slack.calls]
    assert pings_in(post) == PINGS.split(" ") * 2
    assert "&lt;!channel&gt;" in json.dumps(post)
    # An update pings nobody; a new error pings in its thread reply (an edited message
    # notifies no one, a reply does), and the edited message shows whom it pinged.
    assert pings_in(update_1) == pings_in(reply_1) == []
    assert reply_2["text"].splitlines()[0] == PINGS
    assert pings_in(update_2) == PINGS.split(" ") * 2
    assert [r.text.startswith(PINGS) for r in message.replies] == [False, True]


async def test_webhook_mode_pings_in_the_message_it_posts(slack: SlackStandIn) -> None:
    flushes = [
        notification(mentions=("channel",)),
        later(2, Reason.NEW_FAILURES),
        later(3, Reason.NEW_ERROR, mentions=("channel",)),
    ]
    await send_episode(webhook(slack), flushes)
    first, update, new_error = slack.webhook_messages
    assert first["text"].startswith("<!channel>\n")
    assert pings_in(first) == ["<!channel>"] * 2
    assert pings_in(update) == []
    assert pings_in(new_error) == ["<!channel>"] * 2


def test_a_notification_cannot_carry_anything_but_a_mention() -> None:
    with pytest.raises(ValidationError):
        notification(mentions=("here> <http://evil.example|click",))


async def test_oversized_content_is_accepted_by_slack_limits(slack: SlackStandIn) -> None:
    long = "x&<>" * 3000
    n = notification(
        labels={"category": "rate_limit", "model_id": long},
        top_errors=tuple(
            ErrorCount(fingerprint=str(i), message=f"{i} {long}", count=i) for i in range(60)
        ),
        error_types=(long,),
        sample_generation_ids=(long,) * 20,
    )
    refs = await bot(slack).send(n)
    assert refs is not None
    # The stand-in refuses what Slack would refuse (invalid_blocks, msg_too_long).
    assert slack.messages[refs["ts"]].header.endswith("…")


async def test_the_notifier_keeps_the_notifier_contract(slack: SlackStandIn) -> None:
    notifiers: list[Notifier] = [bot(slack), webhook(slack)]
    for notifier in notifiers:
        assert notifier.integration == "slack"
        await notifier.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"webhook_url": SecretStr("https://hooks.example/x"), "bot_token": SecretStr("xoxb-1")},
        {"bot_token": SecretStr("xoxb-1")},
    ],
)
def test_exactly_one_mode_must_be_configured(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        SlackNotifier(**kwargs)  # type: ignore[arg-type]
    assert "xoxb-1" not in str(caught.value)
    assert "hooks.example" not in str(caught.value)


@pytest.mark.parametrize("mode", ["webhook", "bot"])
async def test_the_notifier_never_retries_by_itself(mode: str) -> None:
    """A server that hangs up on every request sees exactly one: retries belong to the
    delivery worker (slack-sdk's own retry handlers would try again)."""
    connections = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        notifier = (
            SlackNotifier(webhook_url=SecretStr(f"http://127.0.0.1:{port}/services/T/B/x"))
            if mode == "webhook"
            else SlackNotifier(
                bot_token=SecretStr("xoxb-1"), channel="#a", api_url=f"http://127.0.0.1:{port}/"
            )
        )
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(notification())
    finally:
        server.close()
        await server.wait_closed()
    assert (caught.value.retryable, caught.value.reason) == (True, "network")
    assert connections == 1


SLACK_PING = re.compile(r"<(?:!here|!channel|@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+)>")


@given(st.one_of(st.text(max_size=40), st.from_regex(r"[UWS][A-Z0-9]{2,12}", fullmatch=True)))
def test_any_mention_is_refused_or_rendered_as_exactly_one_ping(written: str) -> None:
    try:
        carried = notification(mentions=(written,), top_errors=())
    except ValidationError:
        return
    [mention] = carried.mentions
    assert SLACK_PING.fullmatch(slack_mention(mention))
    # The message holds that ping and no other markup.
    message = render.slack_message(carried)
    assert (
        pings_in({"text": message.text, "blocks": message.blocks}) == [slack_mention(mention)] * 2
    )
