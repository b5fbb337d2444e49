from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from receiver import __version__
from receiver.cli.main import main
from tests.leaks import SECRETS, assert_no_secret_in, set_secret_env


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_python_dash_m_receiver_is_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, __version__)


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) != 0
    assert "check-config" in capsys.readouterr().out


def test_check_config_accepts_a_good_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_secret_env(monkeypatch)
    config = tmp_path / "failwatch.yaml"
    config.write_text("smtp_host: mail.example.com\n", encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert "configuration ok" in captured.out
    assert "webhook secret set" in captured.out
    assert_no_secret_in(captured.out + captured.err)


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        # An unknown key.
        pytest.param("smtp_prot: 25\n", "smtp_prot", id="unknown-key"),
        # A bad value.
        pytest.param("smtp_port: many\n", "smtp_port", id="bad-value"),
        # A bad classifier rule.
        pytest.param(
            "classifier:\n  rules:\n    - {category: x}\n", "classifier.rules.0", id="bad-rule"
        ),
    ],
)
def test_check_config_fails_naming_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    yaml_text: str,
    named: str,
) -> None:
    set_secret_env(monkeypatch)
    config = tmp_path / "failwatch.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) != 0
    captured = capsys.readouterr()
    assert named in captured.err
    assert "configuration ok" not in captured.out
    assert_no_secret_in(captured.out + captured.err)


def test_check_config_fails_on_a_bad_environment_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAILWATCH_SMTP_TLS", "ssl")
    assert main(["check-config"]) != 0
    assert "FAILWATCH_SMTP_TLS" in capsys.readouterr().err


def test_check_config_as_a_process_exits_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "failwatch.yaml"
    config.write_text(f"webhook_secrett: {SECRETS['webhook_secret']}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "webhook_secrett" in done.stderr
    assert_no_secret_in(done.stdout + done.stderr)


ROOT = Path(__file__).resolve().parents[2]
QUIET_HOURS = ROOT / "config" / "examples" / "quiet-hours.yaml"
README = ROOT / "README.md"


@pytest.mark.parametrize(
    ("at", "instant", "said"),
    [
        # Saturday night: inside the weekend; muted until the office opens on Monday
        # (08:00 in Berlin), since outside office hours it stays muted.
        (
            "2026-12-05T03:00:00Z",
            "2026-12-05T03:00:00Z",
            "muted at 2026-12-05T03:00:00Z: inside mute_time_intervals 'weekends' "
            "(until 2026-12-07T07:00:00Z)",
        ),
        # Monday 10:00 in Berlin: inside office hours, until 19:00 there.
        (
            "2026-12-07T09:00:00Z",
            "2026-12-07T09:00:00Z",
            "not muted at 2026-12-07T09:00:00Z: inside active_time_intervals 'office-hours'; "
            "outside every mute_time_intervals (until 2026-12-07T18:00:00Z)",
        ),
        # Monday 20:00 in Berlin, after office hours; given with its offset.
        (
            "2026-12-07T20:00:00+01:00",
            "2026-12-07T19:00:00Z",
            "muted at 2026-12-07T19:00:00Z: outside every active_time_intervals "
            "('office-hours') (until 2026-12-08T07:00:00Z)",
        ),
    ],
)
def test_check_config_says_whether_a_route_is_muted_at_a_time(
    at: str,
    instant: str,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "FAILWATCH_SLACK_BOT_TOKEN": "xoxb-test",
        "FAILWATCH_SMTP_HOST": "smtp.example.com",
        "FAILWATCH_EMAIL_FROM": "failwatch@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    labels = ["category=quota", "model_id=flux-pro"]
    assert main(["check-config", "--config", str(QUIET_HOURS), "--route", *labels, "--at", at]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "-> team-slack (route critical; group category='quota', model_id='flux-pro')",
        f"   not muted at {instant}: no time intervals",
        "-> team-email (route email-digest; group category='quota', model_id='flux-pro')",
        f"   {said}",
    ]
    if at in README.read_text():  # the README shows the first case as it prints
        assert all(line in README.read_text() for line in lines[1:])


def test_the_readme_shows_the_quiet_hours_example_and_its_output() -> None:
    readme = README.read_text()
    shown = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)]
    assert yaml.safe_load(QUIET_HOURS.read_text()) in shown
    assert "--at 2026-12-05T03:00:00Z" in readme


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        # A time that is not one.
        (["--route", "category=quota", "--at", "saturday"], "--at takes an ISO 8601 time"),
        # A time without a route to ask about.
        (["--at", "2026-12-05T03:00:00Z"], "--at needs --route"),
    ],
)
def test_check_config_at_refuses_what_it_cannot_answer(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config", str(QUIET_HOURS), *argv]) == 2
    assert error in capsys.readouterr().err
