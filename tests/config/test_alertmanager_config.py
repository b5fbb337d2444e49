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


def test_what_failwatch_has_not_is_refused_not_dropped(tmp_path: Path) -> None:
    assert "Inhibition rules are not there" in am.DIFFERENCES
    extra = {"inhibit_rules": [{"source_matchers": ["category=quota"], "equal": ["model_id"]}]}
    config = yaml.safe_load(EXAMPLE.read_text()) | extra
    path = tmp_path / "pasted.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="inhibit_rules"):
        load_settings(path)


def test_pasted_time_intervals_load_as_alertmanager_wrote_them(tmp_path: Path) -> None:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["time_intervals"] = [
        {
            "name": "business_hours",
            "time_intervals": [
                {
                    "weekdays": ["monday:friday"],
                    "times": [{"start_time": "09:00", "end_time": "17:00"}],
                    "location": "Europe/London",
                }
            ],
        }
    ]
    config["route"]["routes"][1]["active_time_intervals"] = ["business_hours"]
    path = tmp_path / "pasted.yaml"
    path.write_text(yaml.safe_dump(config))
    route = load_settings(path).routes().children[1]
    assert [named.name for named in route.active_time_intervals] == ["business_hours"]
