from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import escape
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.model import ErrorCount, Notification, Reason
from receiver.notifiers.render import (
    RenderOptions,
    blocks,
    facts,
    html_body,
    slack_message,
    subject,
    text_body,
    thread_reply,
)
from receiver.templating import escape_mrkdwn
from tests.notifiers.samples import T0, later, notification, with_details
from tests.notifiers.snapshots import assert_json_snapshot, assert_snapshot

X = facts.TIMES  # the multiplication sign, as in "37 times"
LINKS = RenderOptions(
    dashboard_url="https://supabase.com/dashboard/project/abcd/editor?table=generations&filter=failed",
    admin_api_url="https://failwatch.example.com/api/admin/failed-generations?status=all&hoursAgo=24",
)
FLUSHES = {
    "first": notification(),
    "new_failures": later(2, Reason.NEW_FAILURES),
    "new_error": later(3, Reason.NEW_ERROR),
    "resolved": later(4, Reason.RESOLVED),
    "repeat": later(5, Reason.REPEAT),
    # With include_prompts and include_user_emails on.
    "first_with_details": with_details(notification()),
}
INJECTIONS = [
    "<!channel>",
    "<!here|here>",
    "<@U024BE7LH>",
    "<http://evil.example|click>",
    "<#C024BE7LR>",
    "<!subteam^SAZ94GDB8>",
]


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def mrkdwn_texts(n: Notification, options: RenderOptions | None = None) -> list[str]:
    message = slack_message(n, options)
    return [message.text, thread_reply(n), *strings(message.blocks)]


# -- snapshots -----------------------------------------------------------------------


@pytest.mark.parametrize("flush", list(FLUSHES))
def test_slack_rendering_matches_its_snapshot(flush: str) -> None:
    n = FLUSHES[flush]
    message = slack_message(n, LINKS)
    rendered = {
        "text": message.text,
        "blocks": message.blocks,
        "attachments": message.attachments,
        "thread_reply": thread_reply(n),
    }
    assert_json_snapshot(f"slack_{flush}.json", rendered)


@pytest.mark.parametrize("flush", ["first", "new_error", "resolved", "first_with_details"])
def test_email_rendering_matches_its_snapshot(flush: str) -> None:
    n = FLUSHES[flush]
    assert_snapshot(f"email_{flush}.subject.txt", subject(n) + "\n")
    assert_snapshot(f"email_{flush}.txt", text_body(n, LINKS))
    assert_snapshot(f"email_{flush}.html", html_body(n, LINKS))


# -- what the renderings say ---------------------------------------------------------


def test_the_header_has_the_category_emoji_the_count_and_the_model() -> None:
    header = slack_message(notification()).blocks[0]
    assert header["type"] == "header"
    assert header["text"] == {
        "type": "plain_text",
        "text": ":hourglass_flowing_sand: 37 failures · rate_limit · flux-pro",
        "emoji": True,
    }


@pytest.mark.parametrize(
    ("category", "emoji", "unicode", "colour"),
    [
        ("quota", ":moneybag:", "\U0001f4b0", "#8250df"),
        ("rate_limit", ":hourglass_flowing_sand:", "\u23f3", "#9a6700"),
        ("timeout", ":stopwatch:", "\u23f1\ufe0f", "#bc4c00"),
        ("content_policy", ":no_entry_sign:", "\U0001f6ab", "#cf222e"),
        ("invalid_input", ":pencil2:", "\u270f\ufe0f", "#0969da"),
        ("auth", ":key:", "\U0001f511", "#1b7c83"),
        ("provider_unavailable", ":electric_plug:", "\U0001f50c", "#953800"),
        ("model_error", ":boom:", "\U0001f4a5", "#a40e26"),
        ("unknown", ":grey_question:", "\u2754", "#6e7781"),
        ("stuck", ":turtle:", "\U0001f422", "#6639ba"),
    ],
)
def test_each_category_has_its_emoji_colour_and_action(
    category: str, emoji: str, unicode: str, colour: str
) -> None:
    n = notification(labels={"category": category, "model_id": "flux-pro"})
    message = slack_message(n)
    assert message.blocks[0]["text"]["text"].startswith(emoji + " ")
    (attachment,) = message.attachments
    assert attachment["color"] == colour
    action = attachment["blocks"][0]["elements"][0]["text"]
    assert action
    assert action == facts.STYLES[category].action
    assert subject(n).startswith(f"[failwatch] {unicode} ")
    html = html_body(n)
    assert f"border-top:4px solid {colour};" in html
    assert f"{unicode} <span" in html
    assert escape(action) in html
    assert action in text_body(n)


def test_the_styles_are_all_different() -> None:
    styles = list(facts.STYLES.values())
    for part in ("slack_emoji", "emoji", "colour", "action"):
        assert len({getattr(style, part) for style in styles}) == len(styles), part


def test_a_category_of_your_own_gets_the_alert_style_without_an_action() -> None:
    n = notification(labels={"category": "billing", "model_id": "flux-pro"})
    message = slack_message(n)
    assert message.blocks[0]["text"]["text"].startswith(":rotating_light: ")
    assert message.attachments == []
    assert "border-top:4px solid #d93f0b;" in html_body(n)


def test_a_resolved_incident_is_green_and_drops_its_action() -> None:
    n = notification(labels={"category": "quota", "model_id": "flux-pro"}, reason=Reason.RESOLVED)
    message = slack_message(n)
    assert message.blocks[0]["text"]["text"].startswith(":white_check_mark: ")
    # An empty list, not a missing key: chat.update then removes the open one's bar.
    assert message.attachments == []
    assert "border-top:4px solid #1a7f37;" in html_body(n)
    # The subject keeps the incident's own emoji: a changed subject splits the thread.
    assert subject(n) == "[failwatch] \U0001f4b0 quota · flux-pro"


def test_stuck_generations_are_not_called_failures() -> None:
    n = notification(labels={"category": "stuck", "model_id": "sdxl"}, episode_failures=1)
    assert facts.headline(n) == "1 stuck generation · stuck · sdxl"


def test_resolved_turns_the_header_and_says_how_long_it_was_quiet() -> None:
    n = FLUSHES["resolved"]
    message = slack_message(n)
    assert (
        message.blocks[0]["text"]["text"] == ":white_check_mark: RESOLVED · rate_limit · flux-pro"
    )
    assert "no new failures for 34 min" in message.blocks[1]["text"]["text"]
    assert thread_reply(n).startswith(":white_check_mark: Resolved: no new failures for 34 min")
    assert subject(n) == "[failwatch] \u23f3 rate_limit · flux-pro"


def test_the_thread_reply_says_what_changed() -> None:
    assert thread_reply(FLUSHES["new_failures"]) == (
        "+12 failures (49 in episode) since the last update."
    )
    reply = thread_reply(FLUSHES["new_error"])
    assert reply.startswith("+12 failures (61 in episode), including a new error.")
    assert f":new: New error (12{X}): `Upstream returned 503 Service Unavailable`" in reply


def test_fields_name_category_type_model_failures_users_and_times() -> None:
    fields = slack_message(FLUSHES["new_failures"]).blocks[2]["fields"]
    assert [field["text"] for field in fields] == [
        "*Category*\nrate_limit",
        "*Error type*\nRateLimitError",
        "*Model*\nflux-pro",
        "*Failures*\n12 new · 49 in episode",
        "*Users affected*\n12",
        "*First seen*\n2025-01-15 14:03:07 UTC",
        "*Last seen*\n2025-01-15 14:14:47 UTC",
    ]


def test_new_errors_are_marked_in_the_code_block() -> None:
    section = slack_message(FLUSHES["new_error"]).blocks[3]["text"]["text"]
    lines = section.splitlines()
    assert lines[0] == "*Top errors* (NEW = first seen in this update)"
    assert lines[1] == "```"
    assert lines[-1] == "```"
    assert lines[2:5] == [
        f"    43{X}  Rate limit exceeded: 429 Too Many Requests (retry after 20s)",
        f"NEW 12{X}  Upstream returned 503 Service Unavailable",
        f"     6{X}  Replicate quota exhausted for model black-forest-labs/flux-pro",
    ]


def test_the_subject_names_the_incident_and_never_changes_during_it() -> None:
    # Counts and state live in the body: mail clients thread by the subject.
    subjects = {subject(n) for n in FLUSHES.values()}
    assert subjects == {"[failwatch] \u23f3 rate_limit · flux-pro"}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59.4, "59 s"),
        (60, "1 min"),
        (34 * 60 + 5, "34 min"),
        (3600, "1 h"),
        (2 * 3600 + 5 * 60, "2 h 5 min"),
        (86400, "1 d"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert facts.duration(seconds) == text


# -- escaping ------------------------------------------------------------------------


@pytest.mark.parametrize("payload", INJECTIONS)
def test_no_user_string_can_ping_or_link(payload: str) -> None:
    n = later(
        3,
        Reason.NEW_ERROR,
        labels={"category": f"rate_limit{payload}", "model_id": f"flux{payload}"},
        models=(f"flux{payload}",),
        error_types=(f"Err{payload}",),
        sample_generation_ids=(f"g{payload}",),
        receiver=f"ops{payload}",
        top_errors=(
            ErrorCount(
                fingerprint="a",
                message=f"hi {payload} there",
                count=3,
                new=True,
                sample_prompt=f"draw {payload} now",
            ),
            ErrorCount(
                fingerprint="b", message=f"```{payload}```", count=1, sample_prompt=f"```{payload}"
            ),
        ),
        sample_user_emails=(f"a{payload}@example.com",),
    )
    for flush in (n, n.model_copy(update={"reason": Reason.RESOLVED})):
        for text in mrkdwn_texts(flush):
            # Without configured links nothing may open a Slack control sequence.
            assert "<" not in text, text
            assert ">" not in text, text
            assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", text, re.DOTALL), text
        assert "&lt;" in json.dumps(slack_message(flush).blocks)


def test_a_message_cannot_close_its_code_block() -> None:
    n = notification(
        top_errors=(ErrorCount(fingerprint="a", message="```\n*bold* <!channel>\n```", count=1),)
    )
    section = slack_message(n).blocks[3]["text"]["text"]
    assert section.count("```") == 2
    assert section.startswith("*Top errors*\n```\n")
    assert section.endswith("\n```")
    reply = thread_reply(n.model_copy(update={"reason": Reason.NEW_ERROR}))
    assert "`" not in reply  # the error is new in no way here: no code span at all
    new = n.model_copy(
        update={
            "reason": Reason.NEW_ERROR,
            "top_errors": (ErrorCount(fingerprint="a", message="a`b``c", count=1, new=True),),
        }
    )
    assert thread_reply(new).count("`") == 2


def test_configured_links_are_the_only_links() -> None:
    n = notification(labels={"category": "rate_limit", "model_id": "<http://evil|x>"})
    texts = mrkdwn_texts(n, LINKS)
    links = [link for text in texts for link in re.findall(r"<([^>]*)>", text)]
    assert links == [
        "https://supabase.com/dashboard/project/abcd/editor?table=generations&amp;filter=failed"
        "|Supabase dashboard",
        "https://failwatch.example.com/api/admin/failed-generations?status=all&amp;hoursAgo=24"
        "|Failed generations (admin API)",
    ]


def test_html_escapes_every_value() -> None:
    n = notification(
        labels={"category": "rate_limit", "model_id": '<img src=x onerror="alert(1)">'},
        top_errors=(
            ErrorCount(
                fingerprint="a",
                message="<script>alert(1)</script>",
                count=2,
                sample_prompt="<b>draw</b> me",
            ),
        ),
        sample_generation_ids=("</td><b>",),
        sample_user_emails=("<i>x</i>@example.com",),
    )
    html = html_body(n)
    assert "<script" not in html
    assert "<img" not in html
    assert "</td><b>" not in html
    assert "<b>draw" not in html
    assert "<i>x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Prompt: &lt;b&gt;draw&lt;/b&gt; me" in html
    assert "Users: &lt;i&gt;x&lt;/i&gt;@example.com" in html


def test_control_characters_never_reach_the_subject() -> None:
    n = notification(labels={"category": "rate\r\nlimit", "model_id": "flux\nBcc: x@evil.test\x00"})
    assert subject(n) == "[failwatch] \U0001f6a8 rate limit · flux Bcc: x@evil.test"


# -- Block Kit limits ----------------------------------------------------------------


def huge_notification() -> Notification:
    long = "&<>" * 2000
    return later(
        3,
        Reason.NEW_ERROR,
        labels={"category": "rate_limit", "model_id": "m" + long},
        error_types=tuple(f"Type{i}{long}" for i in range(30)),
        top_errors=tuple(
            ErrorCount(
                fingerprint=f"f{i}",
                message=f"error {i} {long}",
                count=10_000 - i,
                new=i % 2 == 0,
                sample_prompt=f"prompt {i} {long}",
            )
            for i in range(200)
        ),
        sample_generation_ids=tuple(f"g{i}{long}" for i in range(50)),
        sample_user_emails=tuple(f"user{i}{long}@example.com" for i in range(5)),
        receiver="r" + long,
    )


def test_block_kit_limits_hold_with_visible_truncation() -> None:
    message = slack_message(huge_notification(), RenderOptions(max_errors=200))
    assert len(message.blocks) <= 50
    header = message.blocks[0]["text"]["text"]
    assert len(header) <= blocks.HEADER_CHARS
    assert header.endswith("…")
    for block in message.blocks:
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= blocks.SECTION_CHARS
        for field in block.get("fields", []):
            assert len(field["text"]) <= blocks.FIELD_CHARS
        for element in block.get("elements", []):
            assert len(element["text"]) <= blocks.FIELD_CHARS
    errors = message.blocks[3]["text"]["text"]
    assert errors.endswith("more distinct errors\n```")
    shown = errors.count(f"{X}  error ")
    assert 1 <= shown < 200
    assert f"… and {200 - shown} more distinct errors" in errors
    assert len(message.text) <= blocks.FALLBACK_CHARS


def test_errors_beyond_max_errors_are_counted_not_shown() -> None:
    errors = tuple(ErrorCount(fingerprint=f"f{i}", message=f"e{i}", count=1) for i in range(14))
    section = slack_message(notification(top_errors=errors)).blocks[3]["text"]["text"]
    assert section.count(f"{X}  e") == 10
    assert "… and 4 more distinct errors" in section
    assert "  … and 4 more distinct errors" in text_body(notification(top_errors=errors))


@given(st.text(max_size=400), st.integers(min_value=2, max_value=300))
def test_cut_escaped_text_stays_within_limits_and_whole_entities(text: str, limit: int) -> None:
    result = blocks.cut(escape_mrkdwn(text), limit)
    assert len(result) <= limit
    assert "<" not in result
    assert ">" not in result
    assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", result, re.DOTALL)
    if len(escape_mrkdwn(text)) > limit:
        assert result.endswith("…")


def test_times_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert facts.utc(T0) == "2025-01-15 14:03:07 UTC"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# -- prompts and users ---------------------------------------------------------------


def test_without_details_no_prompt_or_users_line_is_rendered() -> None:
    n = notification(sample_user_ids=("u-1", "u-2"))
    rendered = [*mrkdwn_texts(n), text_body(n), html_body(n)]
    assert not any("Prompt:" in text or "Users:" in text for text in rendered)
    assert not any("u-1" in text for text in rendered)  # ids are never shown


def test_the_sample_prompt_is_shown_under_its_error() -> None:
    n = with_details(notification())
    section = slack_message(n).blocks[3]["text"]["text"]
    lines = section.split("\n")
    rate = next(i for i, line in enumerate(lines) if "Rate limit exceeded" in line)
    # Aligned with the message: after "    ", the two-digit count and the sign.
    assert lines[rate + 1] == " " * 9 + "Prompt: a lighthouse at dusk, oil painting"
    text = text_body(n).split("\n")
    rate = next(i for i, line in enumerate(text) if "Rate limit exceeded" in line)
    assert text[rate + 1] == " " * 11 + "Prompt: a lighthouse at dusk, oil painting"
    assert (
        "Users: ada@example.com, grace@example.com"
        in slack_message(n).blocks[4]["elements"][0]["text"]
    )
    assert "Users: ada@example.com, grace@example.com" in text_body(n)


def test_a_prompt_cannot_ping_or_break_out_of_the_code_block() -> None:
    n = notification(
        top_errors=(
            ErrorCount(
                fingerprint="a", message="boom", count=1, sample_prompt="<!channel> ```\n*hi*"
            ),
        )
    )
    section = slack_message(n).blocks[3]["text"]["text"]
    assert "<!channel>" not in section
    assert "Prompt: &lt;!channel&gt; \u02cb\u02cb\u02cb *hi*" in section
    assert section.count("```") == 2
