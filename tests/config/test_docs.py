"""The README's configuration reference is generated from the settings and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from receiver.cli.docs import END, START, config_reference, main
from receiver.config.settings import Settings, environment_names

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_reference() -> str:
    text = README.read_text(encoding="utf-8")
    _, _, rest = text.partition(START + "\n")
    table, found, _ = rest.partition(END)
    assert found, f"README.md has no {START} … {END} block"
    return table


def test_the_readme_reference_is_the_generated_one() -> None:
    assert readme_reference() == config_reference(), "stale: run `make docs`"


def test_every_setting_is_in_the_reference() -> None:
    table = config_reference()
    for name, variable in environment_names().items():
        assert f"`{variable}" in table or f"`{name}:`" in table, name


def test_check_mode_fails_on_a_stale_readme_and_the_rewrite_fixes_it(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n\n{START}\n| old |\n{END}\n\nafter\n", encoding="utf-8")
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0
    assert main([str(stale), "--check"]) == 0
    text = stale.read_text(encoding="utf-8")
    assert "| old |" not in text
    assert text.startswith("# x\n")
    assert text.endswith(f"{END}\n\nafter\n")


def test_secrets_are_marked_and_defaults_shown_as_written() -> None:
    rows = {line.split(" | ")[0].strip("| `"): line for line in config_reference().splitlines()}
    assert rows["FAILWATCH_WEBHOOK_SECRET"].endswith("(secret) |")
    assert "`sqlite:///./failwatch.db`" in rows["FAILWATCH_STATE_URL"]  # a default is no secret
    assert "| `30s` |" in rows["FAILWATCH_GROUP_WAIT"]
    assert "`none`, `starttls`, `tls`" in rows["FAILWATCH_SMTP_TLS"]


def test_a_setting_without_a_description_is_refused() -> None:
    class Undocumented(Settings):
        mystery: int = Field(1)

    with pytest.raises(ValueError, match="'mystery' has no description"):
        config_reference(Undocumented)
