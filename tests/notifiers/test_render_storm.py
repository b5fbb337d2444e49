"""Rendering what storm control sends: an overflow group's message and a digest."""

from __future__ import annotations

from receiver.engine.notification import build_digest
from receiver.model import DigestEntry, Notification, Reason
from receiver.notifiers.render import html_body, slack_message, subject, text_body
from receiver.rows import DigestItemRow
from tests.notifiers.samples import T0, notification
from tests.standins.slack import _message_problem


def overflow(folded: int, names: tuple[str, ...]) -> Notification:
    return notification().model_copy(
        update={
            "labels": {"category": "unknown", "overflow": "model"},
            "folded": folded,
            "folded_names": names,
        }
    )


def digest(*entries: DigestEntry) -> Notification:
    items = [
        DigestItemRow(
            group_key=f"g{i}",
            title=e.title,
            reason=e.reason.value,
            window_failures=e.window_failures,
            episode_failures=e.episode_failures,
            held_at=T0 + i,
        )
        for i, e in enumerate(entries)
    ]
    return build_digest("default", items, now=T0 + 600)


def test_an_overflow_group_names_a_few_folded_models_and_counts_the_rest() -> None:
    n = overflow(37, ("flux-a", "flux-b", "flux-c"))
    header = slack_message(n).blocks[0]["text"]["text"]
    assert "unknown · 37 more models failing: flux-a, flux-b, flux-c, … and 34 others" in header
    # The subject stays put as the overflow group grows: the count is in the body.
    assert subject(n) == "[failwatch] \u2754 unknown · more models"
    assert "37 more models failing" in text_body(n)
    assert n.title == "unknown on 37 more models"


def test_an_overflow_group_with_all_names_shown_has_no_others() -> None:
    n = overflow(2, ("<!channel>", "flux-b"))
    header = slack_message(n).blocks[0]["text"]["text"]
    assert header.endswith("2 more models failing: &lt;!channel&gt;, flux-b")


def test_a_digest_lists_each_held_back_group_once() -> None:
    n = digest(
        DigestEntry(
            title="unknown on lora-1",
            reason=Reason.NEW_FAILURES,
            window_failures=12,
            episode_failures=40,
        ),
        DigestEntry(
            title="timeout on <@U024BE7LH>",
            reason=Reason.RESOLVED,
            window_failures=0,
            episode_failures=9,
        ),
        DigestEntry(
            title="unknown on lora-2", reason=Reason.REPEAT, window_failures=0, episode_failures=3
        ),
    )
    message = slack_message(n)
    assert _message_problem({"text": message.text, "blocks": message.blocks}) is None
    listed = message.blocks[2]["text"]["text"]
    assert listed.splitlines() == [
        "• unknown on lora-1 — +12 (40 in episode)",
        "• timeout on &lt;@U024BE7LH&gt; — resolved (9 in episode)",
        "• unknown on lora-2 — still failing (3 in episode)",
    ]
    assert message.blocks[0]["text"]["text"].endswith("Digest · 3 groups with held-back updates")
    body = text_body(n)
    assert "  unknown on lora-1 — +12 (40 in episode)" in body
    assert "Category" not in body  # a digest has no group fields
    html = html_body(n)
    assert "timeout on &lt;@U024BE7LH&gt; — resolved" in html
    assert subject(n) == "[failwatch] \U0001f4e5 Digest · 3 groups with held-back updates"
