from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
