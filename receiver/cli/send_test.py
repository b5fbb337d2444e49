"""`failwatch send-test`: a sample notification through every configured integration."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

from receiver.config.settings import Settings, load_settings
from receiver.errors import DeliveryError
from receiver.model import ErrorCount, Notification, Reason
from receiver.notifiers.registry import build_notifiers


def register(commands: Any, config_option: Any) -> None:
    parser = commands.add_parser("send-test", help="send a sample notification to receivers")
    config_option(parser)
    parser.add_argument("--receiver", help="only this receiver (default: all)")
    parser.set_defaults(handler=_send_test)


def sample(receiver: str, *, now: float) -> Notification:
    return Notification(
        id=f"test-{uuid.uuid4().hex[:12]}",
        receiver=receiver,
        group_key="send-test",
        episode=1,
        sequence=1,
        reason=Reason.FIRST,
        labels={"category": "rate_limit", "model_id": "example-model"},
        window_failures=3,
        episode_failures=3,
        users_affected=2,
        first_seen=now - 60,
        last_seen=now,
        created_at=now,
        top_errors=(
            ErrorCount(
                fingerprint="0" * 16,
                message="Rate limit exceeded (429) — a test notification from failwatch send-test",
                count=3,
            ),
        ),
        models=("example-model",),
        error_types=("RateLimitError",),
    )


def _send_test(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if args.receiver and args.receiver not in settings.receiver_map():
        print(f"failwatch: no receiver named {args.receiver!r}", file=sys.stderr)
        return 2
    return asyncio.run(_send_all(settings, args.receiver))


async def _send_all(settings: Settings, only: str | None) -> int:
    notifiers = build_notifiers(settings)
    failed = 0
    try:
        for (receiver, key), notifier in notifiers.items():
            if only and receiver != only:
                continue
            try:
                await notifier.send(sample(receiver, now=time.time()))
            except DeliveryError as exc:
                failed += 1
                kind = "will retry" if exc.retryable else "permanent"
                print(
                    f"FAIL {receiver}/{key} ({notifier.destination}): {exc.reason}: {exc} [{kind}]"
                )
            else:
                print(f"ok   {receiver}/{key} ({notifier.destination})")
    finally:
        for notifier in notifiers.values():
            await notifier.close()
    return 1 if failed else 0
