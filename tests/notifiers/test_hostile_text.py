"""Control and bidi characters in what a failure reports (model id, error type, category,
generation ids) never reach a rendering raw: no fake lines in the plain-text e-mail, no
terminal escapes, no right-to-left override reversing what a reader sees (issue 13)."""

from __future__ import annotations

import unicodedata

import pytest

from receiver.model import ErrorCount, Notification
from receiver.notifiers.render import html_body, slack_message, subject, text_body, thread_reply
from receiver.notifiers.render.blocks import fallback_text
from tests.notifiers.samples import notification
from tests.notifiers.test_render import strings

FAKE = "Resolved: all clear"
HOSTILE = [
    # A newline or CR starting a fake line of the e-mail or the Slack header.
    f"flux\n{FAKE}",
    f"flux\r\n{FAKE}",
    f"flux\r{FAKE}",
    # Unicode's own line and paragraph separators.
    f"flux\u2028{FAKE}",
    f"flux\u2029{FAKE}",
    # A terminal escape (colour, cursor moves) and a NUL.
    "flux\x1b[2J\x1b[31mred\x00",
    # Right-to-left override and isolate: "flux-ord" would read backwards.
    "flux-\u202eorp\u202c",
    "flux-\u2067pro\u2069",
    # C1 controls (NEL is a line break in some readers).
    "flux\x85" + FAKE,
]


def _forbidden(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") and char != "\n"


def _hostile_notification(value: str) -> Notification:
    error = ErrorCount(fingerprint="fp", message=value, error_type=value, count=3, new=True)
    return notification(
        labels={"category": value, "model_id": value, "error_type": value},
        models=(value,),
        error_types=(value,),
        top_errors=(error,),
        sample_generation_ids=(value,),
        receiver=value,
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_no_rendering_carries_a_control_or_bidi_character(value: str) -> None:
    n = _hostile_notification(value)
    slack = slack_message(n)
    renderings = {
        "fallback": fallback_text(n),
        "thread": thread_reply(n),
        "subject": subject(n),
        "text": text_body(n),
        "html": html_body(n),
        **{f"slack {i}": text for i, text in enumerate(strings([slack.text, slack.blocks]))},
    }
    for name, text in renderings.items():
        bad = sorted({f"U+{ord(c):04X}" for c in text if _forbidden(c)})
        assert not bad, (name, bad)
        # Our own line breaks only: the injected text never starts a line.
        assert not [line for line in text.split("\n") if line.startswith(FAKE)], (name, text)
    header = next(block for block in slack.blocks if block["type"] == "header")
    assert "\n" not in header["text"]["text"]
    assert "\n" not in subject(n)
