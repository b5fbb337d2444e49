"""The one place that turns receiver configuration into notifier instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from receiver.config.integrations import IntegrationSpec, integration_specs
from receiver.config.receivers import ReceiverConfig
from receiver.config.settings import Settings
from receiver.notifiers.base import Notifier
from receiver.notifiers.console import ConsoleNotifier
from receiver.notifiers.email import EmailNotifier
from receiver.notifiers.slack import SlackNotifier


def specs_by_receiver(settings: Settings) -> dict[str, list[IntegrationSpec]]:
    return {
        name: integration_specs(
            receiver, smtp_host=settings.smtp_host, smtp_port=settings.smtp_port
        )
        for name, receiver in settings.receiver_map().items()
    }


def build_notifiers(settings: Settings) -> dict[tuple[str, str], Notifier]:
    """Every integration of every receiver, keyed by (receiver, integration key)."""
    notifiers: dict[tuple[str, str], Notifier] = {}
    for name, receiver in settings.receiver_map().items():
        specs = integration_specs(
            receiver, smtp_host=settings.smtp_host, smtp_port=settings.smtp_port
        )
        for spec, notifier in zip(specs, _instances(receiver, settings), strict=True):
            notifiers[(name, spec.key)] = notifier
    return notifiers


def _instances(receiver: ReceiverConfig, settings: Settings) -> Sequence[Notifier]:
    # Same order as integration_specs: slack, email, console.
    dashboard, admin = settings.dashboard_url, admin_api_url(settings)
    found: list[Notifier] = []
    for slack in receiver.slack:
        if slack.webhook_url is not None:
            found.append(
                SlackNotifier(
                    webhook_url=slack.webhook_url,
                    dashboard_url=dashboard,
                    admin_api_url=admin,
                    templates=receiver.templates,
                )
            )
        else:
            found.append(
                SlackNotifier(
                    bot_token=slack.bot_token or settings.slack_bot_token,
                    channel=slack.channel,
                    api_url=slack.api_url or settings.slack_api_url,
                    dashboard_url=dashboard,
                    admin_api_url=admin,
                    public_url=settings.public_url,
                    templates=receiver.templates,
                )
            )
    for email in receiver.email:
        # Validated at load: e-mail receivers have an SMTP host and a sender.
        assert settings.smtp_host is not None
        sender = email.from_ or settings.email_from
        assert sender is not None
        found.append(
            EmailNotifier(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_tls,
                username=settings.smtp_username,
                password=settings.smtp_password,
                sender=sender,
                recipients=email.to,
                dashboard_url=dashboard,
                admin_api_url=admin,
                templates=receiver.templates,
            )
        )
    if receiver.console:
        found.append(ConsoleNotifier(json_lines=settings.log_format == "json"))
    return found


def admin_api_url(settings: Settings) -> str | None:
    """The admin API's listing of failed generations, linked from every message."""
    if settings.public_url is None:
        return None
    return settings.public_url.rstrip("/") + "/api/admin/failed-generations?status=all"


async def close_all(notifiers: Mapping[tuple[str, str], Notifier]) -> None:
    for notifier in notifiers.values():
        await notifier.close()
