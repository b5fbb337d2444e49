"""Every configuration file shipped in config/: the good ones load, each bad one fails
with the error its first line expects (`# expect: …`), naming the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config.settings import load_settings
from receiver.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"
GOOD = [CONFIG / "failwatch.example.yaml", *sorted((CONFIG / "examples").glob("*.yaml"))]
BAD = sorted((CONFIG / "invalid").glob("*.yaml"))
# What the example's receivers take from the environment.
ENVIRONMENT = {
    "FAILWATCH_SLACK_BOT_TOKEN": "xoxb-test",
    "FAILWATCH_SMTP_HOST": "smtp.example.com",
    "FAILWATCH_EMAIL_FROM": "failwatch@example.com",
}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_files_load(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(path)
    assert settings.routes().receiver in settings.receiver_map()
    assert not settings.classifier.mismatches(), "a shipped file's examples must hold"


def test_the_example_routes_as_its_comments_say(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    root = load_settings(CONFIG / "failwatch.example.yaml").routes()

    def receivers(**labels: str) -> list[str]:
        return [route.receiver for route in root.match(labels)]

    assert receivers(category="content_policy", model_id="flux-pro") == ["log-only"]
    assert receivers(category="timeout", model_id="flux-pro") == ["ml-team", "oncall"]
    assert receivers(category="unknown", model_id="flux-pro") == ["ml-team"]
    assert receivers(category="unknown", model_id="sdxl") == ["oncall"]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_files_fail_naming_the_problem(path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert expected in str(caught.value)


def test_there_are_bad_files_to_check() -> None:
    assert len(BAD) >= 8
