"""The console notifier: a line a person reads per notification, or that line in a JSON
object; a failure's text never breaks the line or reaches the terminal as a control."""

from __future__ import annotations

import io
import json

import pytest

from receiver.model import DigestEntry, ErrorCount, Notification, Reason
from receiver.notifiers.console import ConsoleNotifier
from receiver.notifiers.render.terminal import terminal_line
from tests.notifiers.samples import later, notification
from tests.notifiers.test_render_storm import digest

pytestmark = pytest.mark.anyio
X = "\u00d7"
TOP = f"top error 31{X} Rate limit exceeded: 429 Too Many Requests (retry after 20s)"
HELD = {"window_failures": 4, "episode_failures": 9}
LATER_TOP = f"top error 43{X} Rate limit exceeded: 429 Too Many Requests (retry after 20s)"


@pytest.mark.parametrize(
    ("n", "line"),
    [
        # a new incident: its reason, category and model, counts, users, top error
        (
            notification(),
            f"14:10 UTC first rate_limit · flux-pro · 37 failures (37 in episode) · 12 users"
            f" · {TOP} · receiver oncall",
        ),
        # an update: the failures since the last one, and the episode's
        (
            later(2, Reason.NEW_FAILURES),
            f"14:15 UTC new_failures rate_limit · flux-pro · 12 failures (49 in episode)"
            f" · 12 users · {LATER_TOP} · receiver oncall",
        ),
        # a repeat: nothing new, still failing
        (
            later(5, Reason.REPEAT),
            f"18:04 UTC repeat rate_limit · flux-pro · still failing (61 in episode) · 12 users"
            f" · {LATER_TOP} · receiver oncall",
        ),
        # resolved
        (
            later(4, Reason.RESOLVED),
            f"14:53 UTC resolved rate_limit · flux-pro · resolved (61 in episode) · 12 users"
            f" · {LATER_TOP} · receiver oncall",
        ),
        # stuck generations are not called failures; no users, no errors: left out
        (
            notification(
                labels={"category": "stuck", "model_id": "sdxl"},
                window_failures=1,
                episode_failures=1,
                users_affected=0,
                top_errors=(),
            ),
            "14:10 UTC first stuck · sdxl · 1 stuck generation (1 in episode) · receiver oncall",
        ),
        # a failure's text with a newline and a terminal escape: one line, no control
        (
            notification(
                top_errors=(
                    ErrorCount(
                        fingerprint="f", message="boom\n\x1b[31mred\x1b[0m\r\nnext", count=2
                    ),
                )
            ),
            f"14:10 UTC first rate_limit · flux-pro · 37 failures (37 in episode) · 12 users"
            f" · top error 2{X} boom [31mred [0m next · receiver oncall",
        ),
        # a digest: what it holds, one group after the other
        (
            digest(
                DigestEntry(title="timeout on sdxl", reason=Reason.NEW_FAILURES, **HELD),
                DigestEntry(title="quota on flux", reason=Reason.RESOLVED, **HELD),
            ),
            "14:13 UTC digest Digest · 2 groups with held-back updates:"
            " timeout on sdxl — +4 (9 in episode); quota on flux — resolved (9 in episode)",
        ),
    ],
)
def test_terminal_line(n: Notification, line: str) -> None:
    assert terminal_line(n) == line


async def test_text_is_the_line_and_json_holds_it() -> None:
    text, structured = io.StringIO(), io.StringIO()
    flushes = [notification(), later(2, Reason.NEW_FAILURES), later(4, Reason.RESOLVED)]
    for n in flushes:
        await ConsoleNotifier(text).send(n)
        await ConsoleNotifier(structured, json_lines=True).send(n)
    assert text.getvalue().splitlines() == [terminal_line(n) for n in flushes]
    objects = [json.loads(line) for line in structured.getvalue().splitlines()]
    assert [o["text"] for o in objects] == [terminal_line(n) for n in flushes]
    assert [o["reason"] for o in objects] == ["first", "new_failures", "resolved"]
    assert objects[0]["labels"] == {"category": "rate_limit", "model_id": "flux-pro"}
    assert objects[1]["window_failures"] == 12
