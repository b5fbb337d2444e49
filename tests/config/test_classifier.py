from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config.classifier import ClassifierRule, ClassifierSettings
from receiver.config.settings import load_settings
from receiver.errors import ConfigError
from receiver.intake.classify import Classifier
from receiver.intake.classify_rules import DEFAULT_RULES
from receiver.model import ErrorDetails


def details(message: str = "", error_type: str | None = None) -> ErrorDetails:
    return ErrorDetails(message=message, error_type=error_type)


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "failwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def category(settings: ClassifierSettings, error: ErrorDetails) -> str:
    return settings.classifier.classify(error).category


CUSTOM = """
classifier:
  rules:
    - category: quota
      message_contains: ["quota exceeded"]
    - category: provider_down
      message_regex: "(?i)service unavailable|\\\\b50[23]\\\\b"
      error_types: [ProviderError]
    - category: broad
      message_contains: ["exceeded", "unavailable"]
"""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # First rule.
        pytest.param(details("Monthly quota exceeded"), "quota", id="first"),
        # Matches the first and the third rule: the first wins.
        pytest.param(details("QUOTA EXCEEDED for org"), "quota", id="first-match-wins"),
        # The regex, case-insensitive through its own (?i).
        pytest.param(details("Service Unavailable"), "provider_down", id="regex"),
        # The regex's other branch.
        pytest.param(details("upstream answered 503"), "provider_down", id="regex-branch"),
        # The same rule through its type.
        pytest.param(details("boom", "ProviderError"), "provider_down", id="type"),
        # Only the third rule matches.
        pytest.param(details("time budget exceeded"), "broad", id="third"),
        # Custom rules replace the defaults: a rate limit is no longer recognised.
        pytest.param(details("Rate limit exceeded"), "broad", id="defaults-replaced"),
        # ... and neither is a 429 without the words of a custom rule.
        pytest.param(details("HTTP 429"), "unknown", id="no-match"),
    ],
)
def test_custom_yaml_rules(tmp_path: Path, error: ErrorDetails, expected: str) -> None:
    settings = load_settings(write_rules(tmp_path, CUSTOM))
    assert category(settings.classifier, error) == expected


EXTENDED = """
classifier:
  extend_defaults: true
  rules:
    - name: our GPU pool
      category: pool_empty
      message_contains: ["rate limit"]
      statuses: [503]
"""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # Your rules come first: they win over a default rule for the same words.
        pytest.param(details("Rate limit exceeded"), "pool_empty", id="yours-first"),
        # ... and for the same status.
        pytest.param(details("HTTP 503"), "pool_empty", id="yours-first-status"),
        # What your rules do not name, the defaults still do.
        pytest.param(details("connect ETIMEDOUT 10.0.0.7:443"), "timeout", id="defaults-after"),
        pytest.param(details("boom", "RateLimitError"), "rate_limit", id="default-type"),
    ],
)
def test_extended_defaults(tmp_path: Path, error: ErrorDetails, expected: str) -> None:
    settings = load_settings(write_rules(tmp_path, EXTENDED))
    assert category(settings.classifier, error) == expected


def test_no_rules_means_the_defaults_and_an_empty_list_means_none(tmp_path: Path) -> None:
    assert load_settings().classifier.classifier.rules == DEFAULT_RULES
    empty = load_settings(write_rules(tmp_path, "classifier:\n  rules: []\n"))
    assert empty.classifier.classifier.rules == ()
    assert category(empty.classifier, details("Rate limit exceeded")) == "unknown"


def test_extend_defaults_comes_from_the_environment_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_rules(tmp_path, "classifier:\n  rules:\n    - {category: mine, codes: [X1]}\n")
    monkeypatch.setenv("FAILWATCH_CLASSIFIER__EXTEND_DEFAULTS", "true")
    rules = load_settings(path).classifier.classifier.rules
    assert [rule.category for rule in rules] == ["mine", *(r.category for r in DEFAULT_RULES)]


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        # A rule that cannot match anything.
        pytest.param(
            "classifier:\n  rules:\n    - category: empty\n", "classifier.rules.0", id="no-cond"
        ),
        # `unknown` is what no match means; a rule may not claim it.
        pytest.param(
            "classifier:\n  rules:\n    - {category: unknown, message_contains: [x]}\n",
            "classifier.rules.0",
            id="reserved-unknown",
        ),
        # `stuck` belongs to the sweep.
        pytest.param(
            "classifier:\n  rules:\n    - {category: stuck, message_contains: [x]}\n",
            "classifier.rules.0",
            id="reserved-stuck",
        ),
        # Categories become labels and metric values: lower snake case only.
        pytest.param(
            "classifier:\n  rules:\n    - {category: Rate Limit, message_contains: [x]}\n",
            "classifier.rules.0.category",
            id="bad-category",
        ),
        # A typo in a rule's keys is an error, not a rule that silently never matches.
        pytest.param(
            "classifier:\n  rules:\n    - {category: quota, message_contain: [x]}\n",
            "classifier.rules.0.message_contain",
            id="typo",
        ),
        # A regex that does not compile.
        pytest.param(
            "classifier:\n  rules:\n    - {category: quota, message_regex: '(unclosed'}\n",
            "classifier.rules.0.message_regex",
            id="bad-regex",
        ),
        # A regex that needs backtracking: RE2 refuses it, and says why.
        pytest.param(
            "classifier:\n  rules:\n    - {category: quota, message_regex: 'a(?=b)'}\n",
            "lookahead (?=...) is not supported",
            id="lookahead",
        ),
        # Statuses are HTTP statuses.
        pytest.param(
            "classifier:\n  rules:\n    - {category: quota, statuses: [4290]}\n",
            "classifier.rules.0.statuses.0",
            id="bad-status",
        ),
        # An example names a category like a rule does.
        pytest.param(
            "classifier:\n  examples:\n    - {message: x, category: Not A Category}\n",
            "classifier.examples.0.category",
            id="bad-example",
        ),
    ],
)
def test_bad_rules_are_refused_naming_the_rule(tmp_path: Path, yaml_text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_rules(tmp_path, yaml_text))
    assert named in str(caught.value)


def test_a_rule_matches_when_any_of_its_conditions_does() -> None:
    rule = ClassifierRule(
        category="quota",
        error_types=("QuotaError",),
        message_contains=("quota",),
        message_regex=r"credits? (left|remaining): 0",
    )
    classifier = Classifier([rule.rule()])
    assert classifier.classify(details("nothing", "QuotaError")).category == "quota"
    assert classifier.classify(details("Quota reached")).category == "quota"
    assert classifier.classify(details("credits left: 0")).category == "quota"
    assert classifier.classify(details("nothing", "OtherError")).category == "unknown"


def test_yaml_regexes_ignore_case_like_the_built_in_rules() -> None:
    rule = ClassifierRule.model_validate({"category": "quota", "message_regex": "quota exceeded"})
    classifier = Classifier([rule.rule()])
    assert classifier.classify(ErrorDetails(message="QUOTA EXCEEDED for key")).category == "quota"


def test_a_regex_runs_in_linear_time_on_a_hostile_message() -> None:
    # (a+)+$ backtracks exponentially in Python's re; in RE2 it is one linear pass.
    rule = ClassifierRule.model_validate({"category": "quota", "message_regex": "(a+)+$"})
    verdict = Classifier([rule.rule()]).classify(ErrorDetails(message="a" * 4000 + "!"))
    assert verdict.category == "unknown"


EXAMPLES = """
classifier:
  examples:
    - {message: "Request failed with status code 429", category: rate_limit}
    - {message: "You exceeded your current quota", type: RateLimitError, category: quota}
    - {message: "boom", category: model_error}
    - {message: "x", code: ETIMEDOUT, category: timeout}
    - {message: "x", status: 503, category: auth}
"""


def test_examples_that_get_another_category_are_named(tmp_path: Path) -> None:
    settings = load_settings(write_rules(tmp_path, EXAMPLES))
    assert settings.classifier.mismatches() == [
        "classifier.examples.2: expected model_error, got unknown (no rule matched): 'boom'",
        "classifier.examples.4: expected auth, got provider_unavailable"
        " (rule 'provider_unavailable' on the status '503'): 'x'",
    ]
