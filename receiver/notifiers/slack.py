"""Slack, through slack-sdk's async clients, in one of two modes.

Bot mode (a bot token and a channel, Web API): the first flush of a group episode posts
a message, with the incident's buttons, and returns its channel id and ts; later
flushes update that message in place (`chat.update`) and reply in its thread with what
changed; `resolved` does the same, so the header turns resolved, and so does an
`action` (someone acknowledged, muted or unmuted the incident); `repeat` posts a fresh
top-level message (and returns its refs), so a long-running incident resurfaces in the
channel. If the message can no longer be
updated (deleted, too old), a fresh one is posted.

Webhook mode (an incoming-webhook URL): a new message per flush, since a webhook cannot
update what it posted; nothing is returned.

Errors become `DeliveryError` here: HTTP 429 (with Retry-After), 5xx, Slack's own
transient errors, network errors and timeouts are retryable; bad or revoked credentials,
an unknown channel, a channel the bot is not in and any other 4xx are permanent.
slack-sdk's retry handlers are switched off — the delivery worker owns retries — and its
debug logging (which would print the webhook URL) is silenced. No token or webhook URL
ever reaches an error message or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, NoReturn

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from receiver.config.integrations import slack_channel_destination, slack_webhook_destination
from receiver.config.receivers import TemplatesConfig
from receiver.errors import ConfigError, DeliveryError
from receiver.model import Notification, Reason
from receiver.notifiers import render
from receiver.notifiers.render import RenderOptions, SlackMessage

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT = 10

# Web API `error` codes. Anything not listed is a permanent client error.
_TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
_AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
        # Incoming-webhook bodies for a removed or disabled webhook.
        "invalid_token",
        "no_service",
        "no_team",
        "team_disabled",
        "action_prohibited",
    }
)
# chat.update cannot edit the message any more: post a fresh one instead.
_GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})

log = logging.getLogger(__name__)
# slack-sdk logs request URLs at debug level — for a webhook, the URL is the secret.
_sdk_log = logging.getLogger(f"{__name__}.sdk")
_sdk_log.setLevel(logging.WARNING)


class _MessageGone(DeliveryError):
    """chat.update found no message it may edit (deleted, too old)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, reason="clientError")


class SlackNotifier:
    """Posts incidents to Slack; exactly one of `webhook_url` or `bot_token` + `channel`.

    `api_url` is the Web API base (a stand-in's in tests); `dashboard_url` and
    `admin_api_url` become links in every message; `timeout` bounds each HTTP call;
    `templates` are the receiver's own title and summary line.
    """

    integration = "slack"

    def __init__(
        self,
        *,
        webhook_url: SecretStr | None = None,
        bot_token: SecretStr | None = None,
        channel: str | None = None,
        api_url: str = DEFAULT_API_URL,
        dashboard_url: str | None = None,
        admin_api_url: str | None = None,
        public_url: str | None = None,
        timeout: int = DEFAULT_TIMEOUT,
        templates: TemplatesConfig | None = None,
    ) -> None:
        if (webhook_url is None) == (bot_token is None):
            raise ConfigError("slack: set either webhook_url or bot_token (with channel)")
        # Only a bot's messages carry buttons: Slack sends their clicks to the app.
        self._options = RenderOptions(
            dashboard_url=dashboard_url,
            admin_api_url=admin_api_url,
            actions=bot_token is not None,
            public_url=public_url,
            templates=templates or TemplatesConfig(),
        )
        # Bot mode edits its messages in place: a later flush is two calls.
        self.updates_in_place = bot_token is not None
        self._webhook: AsyncWebhookClient | None = None
        self._web: AsyncWebClient | None = None
        self._channel = ""
        if webhook_url is not None:
            url = webhook_url.get_secret_value()
            self.destination = slack_webhook_destination(url)
            self._webhook = AsyncWebhookClient(
                url, timeout=timeout, retry_handlers=[], logger=_sdk_log
            )
        else:
            assert bot_token is not None
            if not channel:
                raise ConfigError("slack: bot_token needs a channel")
            self._channel = channel
            self.destination = slack_channel_destination(channel)
            self._web = AsyncWebClient(
                token=bot_token.get_secret_value(),
                base_url=api_url,
                timeout=timeout,
                retry_handlers=[],
                logger=_sdk_log,
            )

    def __repr__(self) -> str:
        return f"SlackNotifier(destination={self.destination!r})"

    async def send(self, notification: Notification) -> Mapping[str, str] | None:
        message = render.slack_message(notification, self._options)
        if self._webhook is not None:
            await self._post_webhook(self._webhook, message)
            return None
        assert self._web is not None
        return await self._send_bot(self._web, notification, message)

    async def close(self) -> None:
        # Both clients open a short-lived aiohttp session per request: nothing stays open.
        return None

    async def _send_bot(
        self, web: AsyncWebClient, notification: Notification, message: SlackMessage
    ) -> Mapping[str, str]:
        thread = notification.thread or {}
        channel, ts = thread.get("channel"), thread.get("ts")
        if notification.reason is Reason.ACTION and (not channel or not ts):
            return {}  # no message of the incident to update: nothing to say
        if not channel or not ts or notification.reason in (Reason.FIRST, Reason.REPEAT):
            return await self._post(web, message)
        try:
            await _call(
                "chat.update",
                web.chat_update(
                    channel=channel,
                    ts=ts,
                    text=message.text,
                    blocks=message.blocks,
                    attachments=message.attachments,
                ),
            )
        except _MessageGone:
            log.warning(
                "slack message can no longer be updated; posting a new one",
                extra={"destination": self.destination, "ts": ts},
            )
            return await self._post(web, message)
        await _call(
            "chat.postMessage",
            web.chat_postMessage(
                channel=channel,
                thread_ts=ts,
                text=render.thread_reply(notification),
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        return {"channel": channel, "ts": ts}

    async def _post(self, web: AsyncWebClient, message: SlackMessage) -> Mapping[str, str]:
        response = await _call(
            "chat.postMessage",
            web.chat_postMessage(
                channel=self._channel,
                text=message.text,
                blocks=message.blocks,
                attachments=message.attachments,
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        channel, ts = response.get("channel"), response.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            raise DeliveryError(
                "Slack chat.postMessage answered without channel and ts",
                retryable=False,
                reason="clientError",
            )
        return {"channel": channel, "ts": ts}

    async def _post_webhook(self, webhook: AsyncWebhookClient, message: SlackMessage) -> None:
        try:
            response = await webhook.send(
                text=message.text,
                blocks=message.blocks,
                attachments=message.attachments,
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:
            # `from None`: aiohttp errors about this request may quote the URL, a secret.
            raise _network_error("incoming webhook", exc) from None
        if response.status_code == 200:
            return
        code = _error_code(response.body)
        _raise_for_status(
            "incoming webhook", response.status_code, code, response.headers.get("Retry-After")
        )


async def _call(method: str, request: Awaitable[Any]) -> Mapping[str, Any]:
    """Await one Web API call; its data, or the DeliveryError that says what went wrong."""
    try:
        response = await request
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        code = _error_code(data.get("error"))
        status = exc.response.status_code
        if status == 200 and code in _GONE_ERRORS:
            raise _MessageGone(f"Slack {method}: {code}") from None
        _raise_for_status(method, status, code, exc.response.headers.get("Retry-After"))
    except Exception as exc:
        raise _network_error(method, exc) from exc
    data = response.data
    return data if isinstance(data, dict) else {}


def _raise_for_status(
    method: str, status: int, code: str | None, retry_after: str | None
) -> NoReturn:
    what = f"Slack {method}: " + (f"{code} (HTTP {status})" if code else f"HTTP {status}")
    if status == 429 or code == "ratelimited":
        raise DeliveryError(
            what, retryable=True, reason="rateLimited", retry_after=_seconds(retry_after)
        )
    if status >= 500 or code in _TRANSIENT_ERRORS:
        raise DeliveryError(what, retryable=True, reason="serverError")
    if code in _AUTH_ERRORS or status in (401, 403):
        raise DeliveryError(what, retryable=False, reason="authError")
    raise DeliveryError(what, retryable=False, reason="clientError")


def _network_error(method: str, exc: Exception) -> DeliveryError:
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"Slack {method}: timed out", retryable=True, reason="network")
    kind = type(exc).__name__
    if isinstance(exc, aiohttp.ClientError | OSError):
        return DeliveryError(
            f"Slack {method}: network error ({kind})", retryable=True, reason="network"
        )
    # Unknown trouble: retry, and let the worker's attempt limit dead-letter it.
    return DeliveryError(f"Slack {method}: unexpected {kind}", retryable=True, reason="unexpected")


def _error_code(value: object) -> str | None:
    """Slack's error code, if it looks like one (never echo an arbitrary body)."""
    if not isinstance(value, str):
        return None
    code = value.strip()
    if 0 < len(code) <= 64 and all(c.isascii() and (c.isalnum() or c == "_") for c in code):
        return code
    return None


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None
