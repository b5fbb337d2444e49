from __future__ import annotations

from pathlib import Path

import pytest

from receiver.cli.main import main
from receiver.intake.fingerprint import fingerprint


def lines(out: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out.strip().splitlines())


def test_classify_prints_the_category_the_rule_and_the_fingerprint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = "Model failed to generate output: CUDA out of memory at step 42935"
    assert main(["classify", message, "--type", "ModelGenerationError"]) == 0
    shown = lines(capsys.readouterr().out)
    assert shown["category"].strip() == "model_error"
    assert shown["rule"].strip() == "rule 'model_error' on the message 'out of memory'"
    assert shown["fingerprint"].strip() == fingerprint("model_error", None, message)


def test_classify_weighs_the_status_and_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "slow down", "--status", "429", "--model", "flux-pro"]) == 0
    shown = lines(capsys.readouterr().out)
    assert shown["category"].strip() == "rate_limit"
    assert shown["rule"].strip() == "rule 'rate_limit' on the status '429'"
    assert shown["fingerprint"].strip() == fingerprint("rate_limit", "flux-pro", "slow down")


def test_classify_uses_the_configured_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "failwatch.yaml"
    config.write_text(
        "classifier:\n  extend_defaults: true\n  rules:\n"
        "    - {name: our pool, category: pool_empty, codes: [POOL_EMPTY]}\n",
        encoding="utf-8",
    )
    assert main(["classify", "boom", "--code", "pool_empty", "--config", str(config)]) == 0
    shown = lines(capsys.readouterr().out)
    assert shown["category"].strip() == "pool_empty"
    assert shown["rule"].strip() == "rule 'our pool' on the code 'pool_empty'"


@pytest.mark.parametrize("status", ["4290", "abc", "99"])
def test_classify_refuses_a_status_that_is_not_one(
    status: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["classify", "x", "--status", status])
    assert exited.value.code == 2
    assert "expected an HTTP status from 100 to 599" in capsys.readouterr().err


def check_config_with(tmp_path: Path, examples: str) -> int:
    config = tmp_path / "failwatch.yaml"
    config.write_text(f"classifier:\n  examples:\n{examples}", encoding="utf-8")
    return main(["check-config", "--config", str(config)])


GOOD_EXAMPLE = "    - {message: 'Request failed with status code 429', category: rate_limit}\n"


def test_check_config_passes_when_the_examples_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_config_with(tmp_path, GOOD_EXAMPLE) == 0
    assert "1 classifier examples hold" in capsys.readouterr().out


def test_check_config_fails_on_an_example_that_gets_another_category(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "    - {message: 'GPU pool empty', category: provider_unavailable}\n"
    assert check_config_with(tmp_path, GOOD_EXAMPLE + bad) == 1
    captured = capsys.readouterr()
    assert "configuration ok" not in captured.out
    assert captured.err.strip() == (
        "failwatch: classifier.examples.1: expected provider_unavailable, got unknown"
        " (no rule matched): 'GPU pool empty'"
    )
