"""The registry builds each receiver's notifiers in the order of its integration specs,
and a notifier and its spec name the same destination (rate limits and 429 pauses are
kept per destination, so two names for one channel would split its budget)."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config.settings import load_settings
from receiver.notifiers.registry import build_notifiers, specs_by_receiver

CONFIG = """
receivers:
  - name: oncall
    slack:
      - {channel: "#ai-incidents"}
      - {webhook_url: "https://hooks.slack.test/services/T/B/secret"}
    email: [{to: ["oncall@example.com"]}]
  - name: quiet
    console: true
route:
  receiver: oncall
"""


def test_notifiers_and_specs_name_the_same_destinations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "failwatch.yaml"
    path.write_text(CONFIG)
    for name, value in {
        "FAILWATCH_SLACK_BOT_TOKEN": "xoxb-test",
        "FAILWATCH_SMTP_HOST": "smtp.example.com",
        "FAILWATCH_SMTP_PORT": "2525",
        "FAILWATCH_EMAIL_FROM": "failwatch@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(path)
    notifiers = build_notifiers(settings)
    specs = specs_by_receiver(settings)
    pairs = [
        (spec.destination, notifiers[(name, spec.key)].destination)
        for name, found in specs.items()
        for spec in found
    ]
    assert [spec for spec, _ in pairs] == [notifier for _, notifier in pairs]
    destinations = [spec for spec, _ in pairs]
    assert destinations[0] == "slack:#ai-incidents"
    assert destinations[1].startswith("slack-webhook:")
    assert "secret" not in destinations[1]  # the URL is the credential: only a digest
    assert destinations[2:] == ["email:smtp.example.com:2525", "console"]
