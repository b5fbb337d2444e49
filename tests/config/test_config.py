from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config.settings import Settings, environment_names, load_settings
from receiver.errors import ConfigError
from tests.leaks import SECRETS, assert_no_secret_in, set_secret_env


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "failwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_designs() -> None:
    settings = load_settings()
    assert settings.state_url.get_secret_value() == "sqlite:///./failwatch.db"
    assert settings.max_body_bytes == 256 * 1024
    assert (settings.group_wait, settings.group_interval, settings.repeat_interval) == (
        30.0,
        300.0,
        4 * 3600.0,
    )
    assert (settings.stuck_after, settings.sweep_interval) == (600.0, 60.0)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.webhook_secrets() == []


def test_yaml_values_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "smtp_port: 2525\ngroup_wait: 1m30s\nemail_to: [a@x.io, b@x.io]\n")
    settings = load_settings(path)
    assert settings.smtp_port == 2525
    assert settings.group_wait == 90.0
    assert settings.email_to == ["a@x.io", "b@x.io"]


def test_the_environment_wins_over_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "smtp_port: 2525\nsmtp_host: yaml.example.com\n")
    monkeypatch.setenv("FAILWATCH_SMTP_PORT", "25")
    settings = load_settings(path)
    assert settings.smtp_port == 25
    assert settings.smtp_host == "yaml.example.com"  # not overridden: the file still counts


def test_the_config_file_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILWATCH_CONFIG", str(write(tmp_path, "source_table: jobs\n")))
    assert load_settings().source_table == "jobs"


def test_nested_keys_with_double_underscore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "classifier:\n  rules:\n    - {category: a, message_contains: [x]}\n")
    monkeypatch.setenv(
        "FAILWATCH_CLASSIFIER__RULES", '[{"category": "quota", "message_contains": ["quota"]}]'
    )
    rules = load_settings(path).classifier.rules or ()
    assert [(r.category, r.message_contains) for r in rules] == [("quota", ("quota",))]


def test_comma_separated_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWATCH_EMAIL_TO", "oncall@x.io, team@x.io,,")
    monkeypatch.setenv("FAILWATCH_WEBHOOK_SECRET", "old-secret, new-secret")
    settings = load_settings()
    assert settings.email_to == ["oncall@x.io", "team@x.io"]
    assert settings.webhook_secrets() == [b"old-secret", b"new-secret"]


def test_every_setting_has_its_environment_name() -> None:
    names = environment_names()
    assert names["webhook_secret"] == "FAILWATCH_WEBHOOK_SECRET"
    assert names["state_url"] == "FAILWATCH_STATE_URL"
    assert set(names) == set(Settings.model_fields)


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        # A misspelt key is an error, not a silently ignored setting.
        pytest.param("smtp_prot: 25\n", "smtp_prot", id="unknown-key"),
        # A value of the wrong type names the key and its variable.
        pytest.param("smtp_port: twenty\n", "smtp_port (FAILWATCH_SMTP_PORT)", id="bad-int"),
        # Out of range.
        pytest.param("smtp_port: 70000\n", "smtp_port", id="port-range"),
        # Not one of the allowed choices.
        pytest.param("smtp_tls: ssl\n", "smtp_tls", id="choice"),
        # Not a duration.
        pytest.param("group_wait: soon\n", "group_wait", id="duration"),
        # Below the smallest body limit that can hold a webhook.
        pytest.param("max_body_bytes: 10\n", "max_body_bytes", id="body-limit"),
        # A nested key, named by its whole path.
        pytest.param("classifier:\n  rulez: []\n", "classifier.rulez", id="nested"),
    ],
)
def test_a_bad_setting_is_named(tmp_path: Path, yaml_text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, yaml_text))
    assert named in str(caught.value)


def test_every_bad_setting_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "smtp_port: x\nsmtp_tls: ssl\nbogus: 1\n"))
    message = str(caught.value)
    assert all(key in message for key in ("smtp_port", "smtp_tls", "bogus"))


def test_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWATCH_MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError, match="FAILWATCH_MAX_BODY_BYTES"):
        load_settings()


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        # Broken YAML: where, not what.
        pytest.param("smtp_port: [1, 2\n", "not valid YAML at line", id="syntax"),
        # YAML that is not a mapping.
        pytest.param("- smtp_port\n", "expected a mapping", id="list"),
    ],
)
def test_a_bad_file_is_explained(tmp_path: Path, yaml_text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(write(tmp_path, yaml_text))


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file"):
        load_settings(tmp_path / "absent.yaml")


def test_an_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "# nothing yet\n")) == load_settings()


def test_secrets_stay_out_of_repr_and_str(monkeypatch: pytest.MonkeyPatch) -> None:
    set_secret_env(monkeypatch)
    settings = load_settings()
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == SECRETS["webhook_secret"]
    assert_no_secret_in(repr(settings))
    assert_no_secret_in(str(settings))
    assert_no_secret_in(str(settings.model_dump()))


def test_secrets_stay_out_of_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_secret_env(monkeypatch)
    # Secrets in misspelt keys and in values of the wrong type, next to good ones.
    path = write(
        tmp_path,
        f"webhok_secret: {SECRETS['webhook_secret']}\n"
        f"smtp_port: {SECRETS['smtp_password']}\n"
        f"smtp_pasword: {SECRETS['smtp_password']}\n"
        f"database_url: [{SECRETS['database_url']}]\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "webhok_secret" in message
    assert "smtp_pasword" in message
    assert_no_secret_in(message)
    assert_no_secret_in(repr(caught.value))
    # The error is raised `from None`: no chained pydantic error carries the inputs.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_misspelt_variable_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWATCH_WEBHOOK_SECRETS", "oops")
    monkeypatch.setenv("FAILWATCH_DELIVERY__MAX_ATTEMPTS", "5")  # nested: a real setting
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "FAILWATCH_WEBHOOK_SECRETS: not a failwatch setting" in str(caught.value)
    assert "DELIVERY" not in str(caught.value)
    assert "oops" not in str(caught.value)


def test_prompts_and_user_emails_stay_out_of_alerts_by_default() -> None:
    settings = load_settings()
    assert (settings.include_prompts, settings.include_user_emails) == (False, False)


@pytest.mark.parametrize(
    "supabase",
    [{}, {"supabase_url": "https://abcd.supabase.co"}, {"supabase_service_role_key": "k"}],
)
def test_user_emails_need_the_supabase_url_and_key(supabase: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(include_user_emails=True, **supabase)
    assert "include_user_emails (FAILWATCH_INCLUDE_USER_EMAILS): needs" in str(caught.value)
    ok = {"supabase_url": "https://abcd.supabase.co", "supabase_service_role_key": "k"}
    assert load_settings(include_user_emails=True, **ok).include_user_emails
