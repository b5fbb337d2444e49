"""Settings: a YAML file (`--config` / `FAILWATCH_CONFIG`) under `FAILWATCH_*` variables.

The environment wins over the file; nested keys use `__`. Everything is validated at
load time, and a `ConfigError` names each bad key — never its value, since many of them
are secrets (`SecretStr` keeps them out of reprs and logs as well).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from receiver.config.addresses import valid_address
from receiver.config.classifier import ClassifierSettings
from receiver.config.receivers import EmailConfig, ReceiverConfig, SlackConfig
from receiver.durations import Duration
from receiver.engine import ratelimit
from receiver.engine.rates import FlatlineRule, RateRule, SpikeRule
from receiver.engine.retention import DAY, RetentionPolicy
from receiver.engine.routing import DEFAULT_MAX_GROUPS, Route, RouteConfig, Timing, build_routes
from receiver.engine.storm import BudgetLimit
from receiver.engine.timeintervals import NamedTimeInterval
from receiver.errors import ConfigError

ENV_PREFIX = "FAILWATCH_"
CONFIG_ENV = "FAILWATCH_CONFIG"


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


class DeliverySettings(BaseModel):
    """How the delivery worker retries a notification before it goes to the dead letter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(12, ge=1, le=1000)
    max_age: Duration = 86400.0
    backoff_initial: Duration = 2.0
    backoff_max: Duration = 300.0
    # At most this many API calls per second to one destination (a Slack channel),
    # with bursts of `burst`: Slack allows about one per second per channel. A burst
    # holds at least the calls of one delivery (a Slack update is two).
    rate_per_second: float = Field(1.0, gt=0)
    burst: int = 3
    lease: Duration = 60.0

    @field_validator("burst")
    @classmethod
    def _burst_holds_one_delivery(cls, burst: int) -> int:
        if burst < ratelimit.MOST_CALLS:
            raise ValueError(
                f"at least {ratelimit.MOST_CALLS}: a Slack bot's update is {ratelimit.MOST_CALLS}"
                " API calls (chat.update and the thread reply), each taking a token at once"
            )
        return burst


class RetentionSettings(BaseModel):
    """How long rows are kept. What is open or still owed (an open incident, a failure
    a silence holds, a notification not yet sent) is kept whatever its age."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: Duration = Field(30 * DAY, gt=0)
    notifications: Duration = Field(14 * DAY, gt=0)
    dead_letters: Duration = Field(30 * DAY, gt=0)
    incidents: Duration = Field(90 * DAY, gt=0)
    silences: Duration = Field(90 * DAY, gt=0)
    # How often the pruner runs (one replica at a time).
    interval: Duration = Field(600.0, gt=0)

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            failures=self.failures,
            notifications=self.notifications,
            dead_letters=self.dead_letters,
            incidents=self.incidents,
            silences=self.silences,
        )


class HttpSettings(BaseModel):
    """Bounds on every HTTP connection, so that no client can hold the server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Request line and headers of one request; beyond it, 431 and the connection closes.
    max_header_bytes: int = Field(32 * 1024, ge=1024, le=1024 * 1024)
    # A connection with no request in progress: before its first request, between two.
    idle_timeout: Duration = 5.0
    # From a request's first byte until its headers are complete (then 408).
    header_timeout: Duration = 10.0
    # From the end of a request's headers until its whole body has arrived.
    body_timeout: Duration = 30.0
    # Connections open at once (lowered to what the descriptor limit leaves room for).
    max_connections: int = Field(1000, ge=1, le=1_000_000)


# The rules' defaults are the engine's: one place says what a rule does untold.
_RATE, _FLATLINE, _SPIKE = RateRule(), FlatlineRule(), SpikeRule()


class RateRuleSettings(BaseModel):
    """One model's failure-rate rule; every key is optional in an override."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration = _RATE.window
    min_finished: int = Field(_RATE.min_finished, ge=1)
    min_failed: int = Field(_RATE.min_failed, ge=1)
    threshold: float = Field(_RATE.threshold, gt=0, le=1)
    spike_factor: float = Field(_RATE.spike_factor, gt=1)
    spike_points: float = Field(_RATE.spike_points, ge=0, le=1)
    pending: int = Field(_RATE.pending, ge=1, le=100)
    recover_after: int = Field(_RATE.recover_after, ge=1, le=100)

    def rule(self) -> RateRule:
        return RateRule(**self.model_dump())


class FailureRateSettings(RateRuleSettings):
    """The failure-rate and spike rules (YAML `failure_rate:`); `models` holds per-model
    overrides, each key of it replacing the default for that model (all but `window`)."""

    enabled: bool = True
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("models")
    @classmethod
    def _overrides_are_rules(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for model, overrides in value.items():
            if "window" in overrides:  # one aggregate query per sweep: one window for all
                raise ValueError(f"models.{model}.window: the window is the same for all models")
            RateRuleSettings.model_validate(overrides)
        return value

    def default_rule(self) -> RateRule:
        return RateRuleSettings.model_validate(
            self.model_dump(exclude={"enabled", "models"})
        ).rule()

    def overrides(self) -> dict[str, RateRule]:
        base = self.model_dump(exclude={"enabled", "models"})
        return {
            model: RateRuleSettings.model_validate({**base, **keys}).rule()
            for model, keys in self.models.items()
        }


class FlatlineSettings(BaseModel):
    """When generations stop finishing (YAML `flatline:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    window: Duration = _FLATLINE.window
    min_baseline: int = Field(_FLATLINE.min_baseline, ge=1)
    pending: int = Field(_FLATLINE.pending, ge=1, le=100)
    recover_after: int = Field(_FLATLINE.recover_after, ge=1, le=100)

    def rule(self) -> FlatlineRule:
        return FlatlineRule(**self.model_dump(exclude={"enabled"}))


class FailureSpikeSettings(BaseModel):
    """Spikes of failures failwatch itself recorded, per category and model (YAML
    `failure_spike:`); needs no source database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # At most a day: the baseline is the day before it.
    window: Duration = Field(_SPIKE.window, gt=0, le=DAY)
    # Fewer failures than this in the window is never a spike, whatever the usual.
    min_failed: int = Field(_SPIKE.min_failed, ge=1)
    factor: float = Field(_SPIKE.factor, gt=1)
    pending: int = Field(_SPIKE.pending, ge=1, le=100)
    recover_after: int = Field(_SPIKE.recover_after, ge=1, le=100)
    # How often the rule is evaluated (one replica at a time).
    interval: Duration = Field(60.0, gt=0)

    def rule(self) -> SpikeRule:
        return SpikeRule(**self.model_dump(exclude={"enabled", "interval"}))


class WebhookPathSettings(BaseModel):
    """How persistent a problem of the webhook path must be to alert (YAML
    `webhook_path:`), in sweeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pending: int = Field(2, ge=1, le=100)
    recover_after: int = Field(3, ge=1, le=100)


class Settings(BaseSettings):
    """Every setting of failwatch. Field names are the YAML keys and, upper-cased with
    the `FAILWATCH_` prefix, the environment variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )

    # A PostgreSQL URL may carry a password, so the whole URL is kept secret.
    state_url: SecretStr = Field(
        SecretStr("sqlite:///./failwatch.db"), description="state store URL"
    )
    state_schema: str = Field(
        "failwatch", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="PostgreSQL state schema"
    )
    state_pool_size: int = Field(8, ge=1, le=100, description="PostgreSQL state connections")
    database_url: SecretStr | None = Field(None, description="source (Supabase) Postgres URL")
    webhook_secret: SecretStr | None = Field(
        None, description="shared webhook secret(s), comma-separated for rotation"
    )
    admin_token: SecretStr | None = Field(None, description="bearer token for /api/admin/*")

    slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming webhook URL")
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (Web API mode)")
    slack_channel: str | None = Field(None, description="Slack channel for the bot")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL")
    slack_signing_secret: SecretStr | None = Field(
        None,
        description="Slack app signing secret(s), comma-separated for rotation; enables "
        "POST /slack/interactions (the buttons on bot-mode messages)",
    )
    slack_team_id: str | None = Field(
        None, description="only accept clicks from this Slack workspace (team id, T…)"
    )
    slack_allowed_users: CommaList = Field(
        default_factory=list,
        description="only these Slack user ids (U…) may click, comma-separated; empty: anyone",
    )

    smtp_host: str | None = Field(None, description="SMTP server host")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port")
    smtp_username: str | None = Field(None, description="SMTP AUTH user")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password")
    smtp_tls: Literal["none", "starttls", "tls"] = Field("starttls", description="SMTP security")
    email_from: str | None = Field(None, description="From address of alert e-mails")
    email_to: CommaList = Field(default_factory=list, description="recipients, comma-separated")

    group_wait: Duration = Field(30.0, description="wait before a new group's first message")
    group_interval: Duration = Field(300.0, description="wait between updates of a group")
    repeat_interval: Duration = Field(14400.0, description="re-send an unchanged open group")
    resolve_after: Duration = Field(1800.0, description="quiet time that resolves a group")
    stuck_after: Duration = Field(600.0, description="processing time that counts as stuck")
    sweep_interval: Duration = Field(60.0, description="period of the database sweeps")
    loop_stall_after: Duration = Field(
        60.0,
        description="the dispatcher or delivery worker without progress for this long "
        "makes /readyz fail",
    )
    max_groups: int = Field(
        DEFAULT_MAX_GROUPS,
        ge=1,
        description="open groups per route and category; more fold into one overflow group",
    )
    max_notifications: int = Field(
        20, ge=1, description="updates per receiver per period; more wait for one digest"
    )
    notification_period: Duration = Field(
        600.0, gt=0, description="the period of max_notifications (new incidents not counted)"
    )

    supabase_url: str | None = Field(None, description="project URL (Auth admin API, JWKS)")
    supabase_service_role_key: SecretStr | None = Field(None, description="service-role key")
    supabase_jwt_secret: SecretStr | None = Field(None, description="HS256 JWT secret")

    source_schema: str = Field("public", description="schema of the generations table")
    source_table: str = Field("generations", description="table the webhook reports on")
    max_body_bytes: int = Field(262144, ge=1024, le=64 * 1024 * 1024, description="body limit")
    max_silences: int = Field(
        1000, ge=1, le=100_000, description="silences running (active or pending) at once"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")
    log_format: Literal["json", "text"] = Field(
        "json",
        description="log lines and console notifications: `json` (an object a line, for a log "
        "pipeline) or `text` (for a person at a terminal); `serve --log-format` too",
    )

    dashboard_url: str | None = Field(None, description="link in alerts, e.g. the Supabase table")
    public_url: str | None = Field(
        None, description="failwatch's own URL; alerts link to its admin API"
    )
    # Both off by default: an alert channel is read more widely than the database.
    include_prompts: bool = Field(
        False,
        description="put a sample prompt of each error, cut to 200 characters, in alerts",
    )
    include_user_emails: bool = Field(
        False,
        description="put up to 5 affected users' e-mails in alerts; needs "
        "FAILWATCH_SUPABASE_URL and FAILWATCH_SUPABASE_SERVICE_ROLE_KEY",
    )

    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    receivers: tuple[ReceiverConfig, ...] = Field((), description="named receivers (YAML)")
    route: RouteConfig | None = Field(None, description="routing tree (YAML)")
    time_intervals: tuple[NamedTimeInterval, ...] = Field(
        (), description="named time intervals that routes mute or activate by (YAML)"
    )
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    failure_rate: FailureRateSettings = Field(default_factory=FailureRateSettings)
    flatline: FlatlineSettings = Field(default_factory=FlatlineSettings)
    failure_spike: FailureSpikeSettings = Field(default_factory=FailureSpikeSettings)
    webhook_path: WebhookPathSettings = Field(default_factory=WebhookPathSettings)

    http: HttpSettings = Field(default_factory=HttpSettings)

    @field_validator("*", mode="before")
    @classmethod
    def _one_rule_for_secrets(cls, value: object, info: ValidationInfo) -> object:
        """Surrounding white space is not part of a secret (a Kubernetes Secret file ends
        in a newline), and an empty secret is not set: the default applies."""
        field = cls.model_fields[info.field_name or ""]
        if "SecretStr" not in str(field.annotation):
            return value
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return field.default
        return value

    @field_validator("time_intervals")
    @classmethod
    def _named_once(cls, value: tuple[NamedTimeInterval, ...]) -> tuple[NamedTimeInterval, ...]:
        names = [named.name for named in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"two time intervals share the name {twice[0]!r}")
        return value

    @model_validator(mode="after")
    def _routing_is_whole(self) -> Self:
        _, problems = self._build_routes()
        problems += self._integration_problems()
        if self.include_user_emails and not (
            self.supabase_url and self.supabase_service_role_key is not None
        ):
            problems.append(
                "include_user_emails (FAILWATCH_INCLUDE_USER_EMAILS): needs "
                "FAILWATCH_SUPABASE_URL and FAILWATCH_SUPABASE_SERVICE_ROLE_KEY"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _integration_problems(self) -> list[str]:
        """What an integration needs from the global settings, checked at load time."""
        problems = []
        for i, receiver in enumerate(self.receivers):
            for j, slack in enumerate(receiver.slack):
                if slack.channel and slack.bot_token is None and self.slack_bot_token is None:
                    where = f"receivers[{i}].slack[{j}].bot_token"
                    problems.append(f"{where}: needed (or FAILWATCH_SLACK_BOT_TOKEN)")
            for j, email in enumerate(receiver.email):
                if not self.smtp_host:
                    problems.append(f"receivers[{i}].email[{j}]: needs FAILWATCH_SMTP_HOST")
                if email.from_ is None and self.email_from is None:
                    problems.append(
                        f"receivers[{i}].email[{j}].from: needed (or FAILWATCH_EMAIL_FROM)"
                    )
        if self.smtp_host and self.email_to and self.email_from is None and not self.receivers:
            problems.append("email_from (FAILWATCH_EMAIL_FROM): needed to send e-mail")
        return problems

    def default_timing(self) -> Timing:
        return Timing(
            group_wait=self.group_wait,
            group_interval=self.group_interval,
            repeat_interval=self.repeat_interval,
            resolve_after=self.resolve_after,
            send_resolved=True,
        )

    def budget_limit(self) -> BudgetLimit:
        return BudgetLimit(cap=self.max_notifications, period=self.notification_period)

    def receiver_map(self) -> dict[str, ReceiverConfig]:
        """The receivers by name: those of the YAML file, else one built from the env."""
        if self.receivers:
            return {r.name: r for r in self.receivers}
        slack = []
        if self.slack_webhook_url is not None:
            slack.append(SlackConfig(webhook_url=self.slack_webhook_url))
        if self.slack_bot_token is not None and self.slack_channel:
            slack.append(SlackConfig(bot_token=self.slack_bot_token, channel=self.slack_channel))
        email = []
        if self.smtp_host and self.email_to:
            email.append(EmailConfig(to=tuple(self.email_to)))
        console = not (slack or email)
        return {
            "default": ReceiverConfig(
                name="default", slack=tuple(slack), email=tuple(email), console=console
            )
        }

    def route_config(self) -> RouteConfig:
        if self.route is not None:
            return self.route
        names = list(self.receiver_map())
        return RouteConfig(receiver="default" if "default" in names else names[0])

    def routes(self) -> Route:
        """The resolved routing tree (validated at load, so it has no problems)."""
        root, _ = self._build_routes()
        return root

    def _build_routes(self) -> tuple[Route, list[str]]:
        return build_routes(
            self.route_config(),
            defaults=self.default_timing(),
            receivers={name: r.mention for name, r in self.receiver_map().items()},
            max_groups=self.max_groups,
            time_intervals=self.time_intervals,
        )

    cors_origins: CommaList = Field(
        default_factory=list,
        description="browser origins allowed to call the user endpoint, comma-separated",
    )

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("email_from")
    @classmethod
    def _from_address(cls, value: str | None) -> str | None:
        return None if value is None else valid_address(value)

    @field_validator("email_to")
    @classmethod
    def _to_addresses(cls, value: list[str]) -> list[str]:
        return [valid_address(v) for v in value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init arguments; the environment overrides it.
        return (env_settings, init_settings)

    def state_kind(self) -> str:
        """`sqlite` or `postgresql`: what may be shown of the state URL."""
        return self.state_url.get_secret_value().partition(":")[0]

    def webhook_secrets(self) -> list[bytes]:
        """Every accepted webhook secret (several during a rotation)."""
        if self.webhook_secret is None:
            return []
        raw = self.webhook_secret.get_secret_value().split(",")
        return [item.strip().encode() for item in raw if item.strip()]

    def slack_signing_secrets(self) -> list[str]:
        """Every accepted Slack signing secret (several during a rotation)."""
        if self.slack_signing_secret is None:
            return []
        raw = self.slack_signing_secret.get_secret_value().split(",")
        return [item.strip() for item in raw if item.strip()]


def load_settings(config_path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Settings from the YAML file (if any) and the environment, validated whole."""
    path = config_path or os.environ.get(CONFIG_ENV) or None
    data = read_yaml(Path(path)) if path else {}
    data.update(overrides)
    unknown = unknown_environment(os.environ)
    if unknown:
        raise ConfigError(
            "invalid configuration:\n  "
            + "\n  ".join(f"{name}: not a failwatch setting (misspelt?)" for name in unknown)
        )
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """`FAILWATCH_*` variables that name no setting: a typo there would otherwise be
    silently ignored (say, a webhook secret that never takes effect)."""
    fields = {name.upper() for name in Settings.model_fields}
    unknown = []
    for name in environ:
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        top = name[len(ENV_PREFIX) :].partition("__")[0]
        if top not in fields:
            unknown.append(name)
    return sorted(unknown)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigError(f"config file {path}: not valid YAML{at}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of settings at the top")
    return data


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: the key path and the reason, never the value."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        if not error["loc"]:  # whole-tree checks list their own places
            lines.extend(error["msg"].removeprefix("Value error, ").split("\n"))
            continue
        path = ".".join(str(part) for part in error["loc"])
        top = str(error["loc"][0]) if error["loc"] else ""
        env = (
            f" ({ENV_PREFIX}{top.upper()})"
            if len(error["loc"]) == 1 and top in Settings.model_fields
            else ""
        )
        lines.append(f"{path}{env}: {error['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def environment_names(settings_cls: type[BaseSettings] = Settings) -> Mapping[str, str]:
    """Field name → environment variable, for the docs and `check-config`."""
    return {name: ENV_PREFIX + name.upper() for name in settings_cls.model_fields}
