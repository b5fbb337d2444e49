"""A burst through a real `failwatch serve`: one Slack message per group, updated in
place with thread replies; one threaded e-mail per flush."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.notifiers.mail_clients import apple_mail_threads, gmail_threads, outlook_threads
from tests.payloads import SECRET, WEBHOOK, auth, failed_insert
from tests.serving import Server, running_serve
from tests.standins.slack import SlackStandIn
from tests.standins.smtp import SmtpStandIn
from tests.standins.supabase_auth import SupabaseAuthStandIn, serving

pytestmark = pytest.mark.acceptance

GROUPS = [
    ("flux-pro", "Rate limit exceeded (429)", "RateLimitError"),
    ("flux-pro", "Request timed out after 30000ms", "ModelTimeoutError"),
    ("sdxl", "Rate limit exceeded (429)", "RateLimitError"),
]


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    with SmtpStandIn() as standin:
        yield standin


def integrations(slack: SlackStandIn, smtp: SmtpStandIn) -> dict[str, str]:
    """Slack (bot) and e-mail, pointed at the stand-ins; group_wait 1 s."""
    return {
        "FAILWATCH_WEBHOOK_SECRET": SECRET,
        "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
        "FAILWATCH_SLACK_CHANNEL": "#alerts",
        "FAILWATCH_SLACK_API_URL": slack.api_url,
        "FAILWATCH_SMTP_HOST": smtp.host,
        "FAILWATCH_SMTP_PORT": str(smtp.port),
        "FAILWATCH_SMTP_TLS": "none",
        "FAILWATCH_EMAIL_FROM": "failwatch@example.com",
        "FAILWATCH_EMAIL_TO": "oncall@example.com",
        "FAILWATCH_GROUP_WAIT": "1s",
    }


def send_burst(server: Server, count: int, *, error_suffix: str = "") -> int:
    accepted = 0
    with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
        for i in range(count):
            model, message, kind = GROUPS[i % len(GROUPS)]
            body = failed_insert(
                id=str(uuid.uuid4()),
                user_id=f"user-{i % 7}",
                model_id=model,
                parameters={
                    "error": message + error_suffix,
                    "errorContext": {"message": message + error_suffix, "type": kind},
                },
            )
            response = client.post(WEBHOOK, content=body, headers=auth())
            assert response.status_code == 202, response.text
            accepted += response.json()["status"] == "accepted"
    return accepted


def test_a_burst_is_one_message_per_group_updated_in_place(
    tmp_path: Path, slack: SlackStandIn, smtp: SmtpStandIn
) -> None:
    env = {**integrations(slack, smtp), "FAILWATCH_GROUP_INTERVAL": "2s"}
    with running_serve(tmp_path, **env) as server:
        assert send_burst(server, 90) == 90
        slack.wait_for(lambda s: len(s.messages) == 3)
        smtp.wait_for(lambda s: len(s.messages) == 3)
        # A second wave with a new error in every group: each message is updated once
        # and gets one thread reply saying what changed.
        assert send_burst(server, 30, error_suffix=" (upstream)") == 30
        slack.wait_for(
            lambda s: all(len(m.history) == 1 and len(m.replies) == 1 for m in s.messages.values())
        )
        smtp.wait_for(lambda s: len(s.messages) == 6)
        assert server.stop() == 0

    top_level = list(slack.messages.values())
    assert len(top_level) == 3  # one message per group, never a new one per failure
    # Updated in place to the episode's total, 30 + 10 per group.
    assert sorted(m.header.split(" ", 1)[1] for m in top_level) == [
        "40 failures · rate_limit · flux-pro",
        "40 failures · rate_limit · sdxl",
        "40 failures · timeout · flux-pro",
    ]
    for message in top_level:
        [reply] = message.replies
        assert reply.text.startswith("+10 failures (40 in episode), including a new error.")
    posts = [c for c in slack.calls if c.method == "chat.postMessage" and "thread_ts" not in c.body]
    assert len(posts) == 3

    mails = [m.message for m in smtp.messages]
    subjects = [m["Subject"] for m in mails]
    # One subject per incident, the same on its update: the counts are in the body.
    assert (
        sorted(subjects[:3])
        == sorted(subjects[3:])
        == sorted(
            [
                "[failwatch] \u23f3 rate_limit · flux-pro",
                "[failwatch] \u23f1\ufe0f timeout · flux-pro",
                "[failwatch] \u23f3 rate_limit · sdxl",
            ]
        )
    ), subjects
    first_ids = {m["Message-ID"].strip() for m in mails[:3]}
    for later in mails[3:]:
        assert later["In-Reply-To"].strip() in first_ids
        assert later["References"] == later["In-Reply-To"]
    for threads in (gmail_threads, outlook_threads, apple_mail_threads):
        assert sorted(len(thread) for thread in threads(mails)) == [2, 2, 2]


SERVICE_KEY = "service-role-key-acceptance"
USER = "0b4d7a3e-9c61-4f2a-8e15-7d3c2b1a0f9e"


@pytest.fixture
def supabase_auth() -> Iterator[SupabaseAuthStandIn]:
    stand_in = SupabaseAuthStandIn(service_role_key=SERVICE_KEY, users={USER: "ada@example.com"})
    with serving(stand_in) as running:
        yield running


def alert_once(
    tmp_path: Path,
    slack: SlackStandIn,
    smtp: SmtpStandIn,
    supabase: SupabaseAuthStandIn,
    *,
    prompt: str,
    **flags: str,
) -> tuple[str, str]:
    """One failure through `failwatch serve` → (everything Slack got, the e-mail)."""
    env = {
        **integrations(slack, smtp),
        "FAILWATCH_SUPABASE_URL": supabase.url,
        "FAILWATCH_SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY,
        **flags,
    }
    with running_serve(tmp_path, **env) as server:
        body = failed_insert(id=str(uuid.uuid4()), user_id=USER, prompt=prompt)
        with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
            response = client.post(WEBHOOK, content=body, headers=auth())
            assert response.json() == {"status": "accepted"}
        slack.wait_for(lambda s: len(s.messages) == 1)
        smtp.wait_for(lambda s: len(s.messages) == 1)
        assert server.stop() == 0
    calls = json.dumps([c.body for c in slack.calls], ensure_ascii=False)
    [mail] = smtp.messages
    # The raw bytes, and both bodies decoded (quoted-printable wraps long lines).
    parts = [mail.data.decode("utf-8", "replace")]
    for kind in ("plain", "html"):
        part = mail.message.get_body((kind,))
        assert part is not None
        parts.append(part.get_content())
    return calls, "\n".join(parts)


def test_by_default_no_prompt_or_user_email_leaves_or_is_stored(
    tmp_path: Path, slack: SlackStandIn, smtp: SmtpStandIn, supabase_auth: SupabaseAuthStandIn
) -> None:
    slack_calls, mail = alert_once(tmp_path, slack, smtp, supabase_auth, prompt="SECRET PROMPT")
    assert "SECRET PROMPT" not in slack_calls
    assert "SECRET PROMPT" not in mail
    files = list(tmp_path.glob("failwatch.db*"))
    assert files
    assert not [f.name for f in files if b"SECRET PROMPT" in f.read_bytes()]
    assert supabase_auth.requests_to("/auth/v1/admin/users/") == []  # no lookup at all
    assert "Users:" not in slack_calls
    assert "Users:" not in mail


def test_with_both_flags_the_cut_prompt_and_the_emails_are_shown(
    tmp_path: Path, slack: SlackStandIn, smtp: SmtpStandIn, supabase_auth: SupabaseAuthStandIn
) -> None:
    prompt = "<!channel> a lighthouse " + "x" * 300
    slack_calls, mail = alert_once(
        tmp_path,
        slack,
        smtp,
        supabase_auth,
        prompt=prompt,
        FAILWATCH_INCLUDE_PROMPTS="true",
        FAILWATCH_INCLUDE_USER_EMAILS="true",
    )
    cut = "x" * (200 - len("<!channel> a lighthouse ") - 1) + "…"
    assert f"Prompt: &lt;!channel&gt; a lighthouse {cut}" in slack_calls
    assert "<!channel>" not in slack_calls
    assert "x" * 200 not in slack_calls
    assert "Users: ada@example.com" in slack_calls
    assert "Users: ada@example.com" in mail
    assert "a lighthouse " + cut in mail
    assert len(supabase_auth.requests_to("/auth/v1/admin/users/")) >= 1
