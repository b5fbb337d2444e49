"""The one place that turns receiver configuration into notifier instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from receiver.config import Settings
from receiver.notifiers.base import Notifier
from receiver.notifiers.config import ReceiverConfig
from receiver.notifiers.console import ConsoleNotifier
from receiver.notifiers.spec import IntegrationSpec, integration_specs


def specs_by_receiver(settings: Settings) -> dict[str, list[IntegrationSpec]]:
    return {
        name: integration_specs(receiver, smtp_host=settings.smtp_host)
        for name, receiver in settings.receiver_map().items()
    }


def build_notifiers(settings: Settings) -> dict[tuple[str, str], Notifier]:
    """Every integration of every receiver, keyed by (receiver, integration key)."""
    notifiers: dict[tuple[str, str], Notifier] = {}
    for name, receiver in settings.receiver_map().items():
        specs = integration_specs(receiver, smtp_host=settings.smtp_host)
        for spec, notifier in zip(specs, _instances(receiver, settings), strict=True):
            notifiers[(name, spec.key)] = notifier
    return notifiers


def _instances(receiver: ReceiverConfig, settings: Settings) -> Sequence[Notifier]:
    # Same order as integration_specs: slack, email, console.
    found: list[Notifier] = []
    if receiver.slack or receiver.email:
        raise NotImplementedError("slack and email notifiers are wired in with issue 4")
    if receiver.console:
        found.append(ConsoleNotifier())
    return found


async def close_all(notifiers: Mapping[tuple[str, str], Notifier]) -> None:
    for notifier in notifiers.values():
        await notifier.close()
