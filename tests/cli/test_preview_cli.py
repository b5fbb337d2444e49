"""`failwatch preview` and the templates `check-config` renders: a receiver's own words,
for a sample incident and for a real one in the state store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from receiver.cli.main import main
from receiver.loops.incidents import IncidentFilter, list_incidents
from tests.leaks import set_secret_env
from tests.loops.harness import engine

CONFIG = """\
smtp_host: mail.example.com
email_from: failwatch@example.com
receivers:
  - name: oncall
    slack: [{channel: "#ai-incidents"}]
    email: [{to: "oncall@example.com"}]
    templates:
      title: "{{ category }} on {{ model }}: {{ episode_failures }} so far"
      summary: "{{ default }} Top error: {{ top_error }}"
      email_subject: "[AI] {{ topic }}"
route:
  receiver: oncall
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "failwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def sections(out: str) -> tuple[dict[str, object], list[str]]:
    """The Slack message (JSON) and the e-mail's lines of the preview's output."""
    slack_part, email_part = out.split("== E-mail (receiver oncall) ==\n")
    assert slack_part.startswith("== Slack (receiver oncall) ==\n")
    return json.loads(slack_part.split("\n", 1)[1]), email_part.splitlines()


def test_preview_of_a_sample_shows_the_templates_for_slack_and_email(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_secret_env(monkeypatch)
    assert main(["preview", "--config", write(tmp_path, CONFIG), "--receiver", "oncall"]) == 0
    message, email = sections(capsys.readouterr().out)
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0]["text"]["text"] == (
        ":hourglass_flowing_sand: rate_limit on example-model: 3 so far"
    )
    assert blocks[1]["text"]["text"].endswith(
        "Top error: Rate limit exceeded: 429 Too Many Requests (retry after 20s)"
    )
    # A bot's message: with the incident's buttons.
    assert blocks[-1]["type"] == "actions"
    assert email[0] == "Subject: [AI] rate_limit · example-model"
    assert email[2] == "rate_limit on example-model: 3 so far"


def test_preview_of_a_real_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def one_incident() -> str:
        async with engine(tmp_path, resolve_after="10h") as e:
            for _ in range(4):
                await e.fail(model="sdxl", error="CUDA out of memory <&>")
            e.clock.advance(31)
            await e.settle()
            (incident,) = await list_incidents(e.store, IncidentFilter(), now=e.clock())
            return incident.id

    incident = asyncio.run(one_incident())
    set_secret_env(monkeypatch)
    monkeypatch.setenv("FAILWATCH_STATE_URL", f"sqlite:///{tmp_path}/fw.db")
    config = write(tmp_path, CONFIG)
    assert (
        main(["preview", "--config", config, "--receiver", "oncall", "--incident", incident]) == 0
    )
    message, email = sections(capsys.readouterr().out)
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0]["text"]["text"].endswith(" on sdxl: 4 so far")
    # The failure's text, escaped for Slack; as it is in the plain-text e-mail.
    assert blocks[1]["text"]["text"].endswith("Top error: CUDA out of memory &lt;&amp;&gt;")
    assert email[2].endswith(" on sdxl: 4 so far")
    assert any(line.endswith("Top error: CUDA out of memory <&>") for line in email)

    assert (
        main(["preview", "--config", config, "--receiver", "oncall", "--incident", "0" * 24 + "-9"])
        == 1
    )
    assert "has no notification" in capsys.readouterr().err
    assert main(["preview", "--config", config, "--receiver", "nobody"]) == 2
    assert "no receiver named 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        # a field no notification has
        (
            'title: "{{ incident_url }}"',
            "receiver oncall: template title: 'incident_url' is undefined",
        ),
        # an error the first sample has, but not the third: every sample is rendered
        (
            "summary: \"{{ top_errors|selectattr('new')|map(attribute='message')|first|upper }}\"",
            "receiver oncall: template summary: ",
        ),
        # text multiplied: refused while rendering
        (
            'email_subject: "{{ category * 3 }}"',
            "receiver oncall: template email_subject: '*' is for numbers",
        ),
    ],
)
def test_check_config_renders_every_template_and_names_the_receiver(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    template: str,
    problem: str,
) -> None:
    set_secret_env(monkeypatch)
    config = CONFIG.replace(
        '      email_subject: "[AI] {{ topic }}"\n', f"      {template}\n"
    ).replace('      title: "{{ category }} on {{ model }}: {{ episode_failures }} so far"\n', "")
    assert main(["check-config", "--config", write(tmp_path, config)]) == 1
    assert problem in capsys.readouterr().err


def test_a_template_that_does_not_compile_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_secret_env(monkeypatch)
    config = CONFIG.replace("{{ topic }}", "{{ topic ")
    assert main(["check-config", "--config", write(tmp_path, config)]) == 2
    err = capsys.readouterr().err
    assert "receivers.0.templates.email_subject" in err
    assert "unexpected end of template" in err


def test_check_config_accepts_good_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_secret_env(monkeypatch)
    assert main(["check-config", "--config", write(tmp_path, CONFIG)]) == 0
    assert capsys.readouterr().out.startswith("configuration ok:")
