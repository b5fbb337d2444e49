"""Receivers and their integrations, as the YAML file declares them.

A receiver is a name and one or more integrations (Slack in webhook or bot mode, e-mail,
console). Without a YAML `receivers:` list, the environment alone makes one receiver,
`default`, holding every integration whose variables are set — or the console.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from receiver.config.addresses import valid_address
from receiver.model import Mentions
from receiver.templating import Template, TemplateProblem


class SlackConfig(BaseModel):
    """Slack by incoming webhook, or by bot (channel, and a token that defaults to
    FAILWATCH_SLACK_BOT_TOKEN so a routing file need not hold secrets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    channel: str | None = Field(None, min_length=1, max_length=80)
    api_url: str | None = None  # default: the global slack_api_url

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        bot = self.bot_token is not None or self.channel is not None
        if self.webhook_url is not None and bot:
            raise ValueError("use either webhook_url or bot_token + channel, not both")
        if self.webhook_url is None and not self.channel:
            raise ValueError(
                "needs webhook_url, or channel (with bot_token or FAILWATCH_SLACK_BOT_TOKEN)"
            )
        return self


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: tuple[str, ...] = Field(min_length=1)
    from_: str | None = Field(None, alias="from")  # default: the global email_from

    @field_validator("to", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(valid_address(v) for v in value)

    @field_validator("from_")
    @classmethod
    def _from_address(cls, value: str | None) -> str | None:
        return None if value is None else valid_address(value)


def _compiled(value: object) -> Template:
    if isinstance(value, Template):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a template (text with {{ field }} placeholders)")
    try:
        return Template(value)
    except TemplateProblem as exc:
        raise ValueError(f"template: {exc}") from None


# Compiled while the configuration loads, so a template that cannot be used is refused
# with its receiver and key named.
_Template = Annotated[
    Template,
    PlainValidator(_compiled),
    PlainSerializer(lambda template: template.source, return_type=str),
    WithJsonSchema({"type": "string"}),
]


class TemplatesConfig(BaseModel):
    """What a receiver's messages say, in place of the built-in text (see README,
    "Templates"): the title (Slack's header, the e-mail's first line), the summary line
    under it, and the e-mail subject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: _Template | None = None
    summary: _Template | None = None
    email_subject: _Template | None = None


class ReceiverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    slack: tuple[SlackConfig, ...] = ()
    email: tuple[EmailConfig, ...] = ()
    console: bool = False
    # Whom its Slack messages ping, on routes that set no `mention` of their own.
    mention: Mentions = ()
    templates: TemplatesConfig = TemplatesConfig()

    @model_validator(mode="after")
    def _has_integration(self) -> Self:
        if not (self.slack or self.email or self.console):
            raise ValueError("a receiver needs at least one of slack, email, console")
        return self
