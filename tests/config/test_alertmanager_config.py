"""A configuration written for Alertmanager, loaded whole: the README's pasted route
routes as the README shows, and what failwatch does not have is refused, not dropped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from receiver.cli.main import main
from receiver.config.settings import load_settings
from receiver.errors import ConfigError
from tests.engine import alertmanager_cases as am

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "alertmanager-route.yaml"


def readme_blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_the_readme_shows_the_example_route() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())["route"]
    shown = [yaml.safe_load(b) for b in readme_blocks("yaml")]
    assert {"route": example} in shown


def test_check_config_prints_what_the_readme_shows(capsys: pytest.CaptureFixture[str]) -> None:
    console = next(b for b in readme_blocks("console") if "alertmanager-route.yaml" in b)
    commands = re.findall(r"--route ([^\n]+)", console)
    assert len(commands) == 2
    for labels in commands:
        assert main(["check-config", "--config", str(EXAMPLE), "--route", *labels.split()]) == 0
        printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("->")]
        assert printed
        for line in printed:
            assert line in console


@pytest.mark.parametrize(
    "extra",
    [
        {"time_intervals": [{"name": "office", "time_intervals": []}]},
        {"inhibit_rules": [{"source_matchers": ["category=quota"], "equal": ["model_id"]}]},
    ],
    ids=["time_intervals", "inhibit_rules"],
)
def test_what_failwatch_has_not_is_refused_not_dropped(
    extra: dict[str, object], tmp_path: Path
) -> None:
    assert "Time intervals and inhibition rules are not there" in am.DIFFERENCES
    config = yaml.safe_load(EXAMPLE.read_text()) | extra
    path = tmp_path / "pasted.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=next(iter(extra))):
        load_settings(path)
