from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config.settings import load_settings
from receiver.errors import ConfigError
from receiver.intake.classify import DEFAULT_RULES, ClassifierRule, classify
from receiver.model import ErrorDetails
from receiver.patterns import compile_user_pattern


def details(
    message: str = "", error_type: str | None = None, context_message: str | None = None
) -> ErrorDetails:
    return ErrorDetails(message=message, error_type=error_type, context_message=context_message)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # The guide's rule, first clause: "rate limit" anywhere in the message.
        pytest.param(details("Rate limit exceeded, retry later"), "rate_limit", id="rate-limit"),
        # ILIKE in the guide: the case of the message does not matter.
        pytest.param(
            details("RATE LIMIT reached for flux-pro"), "rate_limit", id="rate-limit-caps"
        ),
        # Second clause: "429" anywhere, e.g. an upstream HTTP status.
        pytest.param(details("HTTP 429 Too Many Requests"), "rate_limit", id="http-429"),
        # Third clause: the error type alone, whatever the message says.
        pytest.param(details("slow down", "RateLimitError"), "rate_limit", id="rate-limit-type"),
        # The guide compares the type with `=`: another spelling is not the rule's.
        pytest.param(details("slow down", "ratelimiterror"), "unknown", id="type-is-exact"),
        # "ratelimit" without the space is not the guide's "%rate limit%".
        pytest.param(details("ratelimited by provider"), "unknown", id="no-space-no-match"),
        # The context message counts when `parameters.error` is empty.
        pytest.param(details("", context_message="rate limit hit"), "rate_limit", id="context-msg"),
        # The guide's '%429%' matches inside numbers too, and rate_limit is tried first.
        pytest.param(details("Request timed out after 14290ms"), "rate_limit", id="429-in-number"),
        # The example of the design: a request that timed out.
        pytest.param(
            details("Request 8f3a9c2e timed out after 30012ms"), "timeout", id="timed-out"
        ),
        # One word, any case.
        pytest.param(details("Upstream TIMEOUT"), "timeout", id="timeout-word"),
        # gRPC's wording.
        pytest.param(details("DEADLINE_EXCEEDED: deadline exceeded"), "timeout", id="deadline"),
        # Node's socket error.
        pytest.param(details("connect ETIMEDOUT 10.0.0.7:443"), "timeout", id="etimedout"),
        # A timeout type with a message that says nothing.
        pytest.param(details("failed", "ModelTimeoutError"), "timeout", id="timeout-type"),
        # Content policy, as providers word it.
        pytest.param(details("Your prompt violates our content policy"), "content_policy", id="cp"),
        # Snake-cased codes.
        pytest.param(details("content_policy_violation"), "content_policy", id="cp-code"),
        # NSFW detectors.
        pytest.param(details("NSFW content detected in output"), "content_policy", id="nsfw"),
        # Safety systems that flag prompts.
        pytest.param(details("Prompt flagged by safety system"), "content_policy", id="flagged"),
        # A policy type with a bland message.
        pytest.param(details("rejected", "ContentPolicyError"), "content_policy", id="cp-type"),
        # The guide's own example type.
        pytest.param(
            details("CUDA out of memory", "ModelGenerationError"), "model_error", id="mge"
        ),
        # Order: a model error that mentions a rate limit is a rate limit.
        pytest.param(
            details("rate limit from provider", "ModelGenerationError"), "rate_limit", id="order"
        ),
        # The guide's catch-all type matches no rule.
        pytest.param(details("Something broke", "UnknownError"), "unknown", id="unknown-type"),
        # No message and no type at all.
        pytest.param(details(""), "unknown", id="empty"),
    ],
)
def test_default_rules(error: ErrorDetails, expected: str) -> None:
    assert classify(error) == expected


def test_default_rules_are_tried_in_the_documented_order() -> None:
    assert [rule.category for rule in DEFAULT_RULES] == [
        "rate_limit",
        "timeout",
        "content_policy",
        "model_error",
    ]


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "failwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


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
    assert classify(error, settings.classifier.rules) == expected


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
        message_regex=compile_user_pattern(r"credits? (left|remaining): 0"),
    )
    assert rule.matches(details("nothing", "QuotaError"))
    assert rule.matches(details("Quota reached"))
    assert rule.matches(details("credits left: 0"))
    assert not rule.matches(details("nothing", "OtherError"))


def test_yaml_regexes_ignore_case_like_the_built_in_rules() -> None:
    rule = ClassifierRule.model_validate({"category": "quota", "message_regex": "quota exceeded"})
    assert classify(ErrorDetails(message="QUOTA EXCEEDED for key"), [rule]) == "quota"


@pytest.mark.timeout(30)
def test_a_catastrophic_message_regex_runs_in_linear_time() -> None:
    # message_regex runs on up to 256 KiB of attacker text: with Python's re, (x+x+)+y
    # on a long run of "x" never finishes. The timeout turns a freeze into a failure.
    rule = ClassifierRule.model_validate({"category": "quota", "message_regex": "(x+x+)+y"})
    assert classify(ErrorDetails(message="x" * 262_144), [rule]) == "unknown"
