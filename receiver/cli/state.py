"""CLI commands that work on the state store: silences, the outbox, route tests."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from receiver.config.settings import Settings, load_settings
from receiver.durations import parse_duration
from receiver.engine.matchers import parse_matchers
from receiver.engine.silences import SilenceRequest
from receiver.loops import silences
from receiver.loops.pruner import prune_once
from receiver.store import Store, open_store, outbox, retention
from receiver.timefmt import iso

T = TypeVar("T")


def register(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    silence = commands.add_parser("silence", help="mute matching failures for a while")
    silence_commands = silence.add_subparsers(
        dest="silence_command", metavar="ACTION", required=True
    )
    add = silence_commands.add_parser("add", help="add a silence")
    config_option(add)
    add.add_argument(
        "--match",
        action="append",
        required=True,
        metavar="MATCHER",
        help='e.g. model_id=flux-pro or category=~"rate_.*" (repeatable)',
    )
    add.add_argument("--for", dest="duration", default="2h", help="how long (default 2h)")
    add.add_argument("--comment", required=True)
    add.add_argument("--author", default=None, help="default: $USER")
    add.set_defaults(handler=_silence_add)
    listing = silence_commands.add_parser("list", help="list silences")
    config_option(listing)
    listing.add_argument("--all", action="store_true", help="include expired ones")
    listing.set_defaults(handler=_silence_list)
    expire = silence_commands.add_parser("expire", help="end a silence now")
    config_option(expire)
    expire.add_argument("id")
    expire.set_defaults(handler=_silence_expire)

    outbox = commands.add_parser("outbox", help="inspect and retry notifications")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    show = outbox_commands.add_parser("list", help="list outbox rows (default: dead letter)")
    config_option(show)
    show.add_argument("--status", choices=["pending", "sent", "dead", "all"], default="dead")
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(handler=_outbox_list)
    retry = outbox_commands.add_parser("retry", help="send dead notifications again")
    config_option(retry)
    retry.add_argument("ids", nargs="*", type=int, help="outbox ids (default: all dead)")
    retry.set_defaults(handler=_outbox_retry)

    store = commands.add_parser("store", help="what the state store holds, and pruning")
    store_commands = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    stats = store_commands.add_parser("stats", help="rows and bytes per table, oldest row")
    config_option(stats)
    stats.set_defaults(handler=_store_stats)
    prune = store_commands.add_parser("prune", help="delete what retention lets go, now")
    config_option(prune)
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    prune.set_defaults(handler=_store_prune)


def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured state store, run `work` on it, close it."""

    async def run() -> T:
        store = open_store(
            settings.state_url.get_secret_value(), schema=settings.state_schema, pool_size=2
        )
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _silence_add(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        seconds = parse_duration(args.duration)
        request = SilenceRequest(
            matchers=tuple(m for text in args.match for m in parse_matchers(text)),
            ends_at=time.time() + seconds,
            comment=args.comment,
            author=args.author or current_user(),
        )
    except (ValueError, ValidationError) as exc:
        print(f"failwatch: {_first_line(exc)}", file=sys.stderr)
        return 2
    created = with_store(
        settings,
        lambda s: silences.create(s, request, now=time.time(), max_running=settings.max_silences),
    )
    print(json.dumps(created.describe(now=time.time())))
    return 0


def _silence_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    now = time.time()
    found = with_store(settings, lambda s: silences.listing(s, include_expired=args.all, now=now))
    for silence in found:
        print(json.dumps(silence.describe(now=now)))
    return 0


def _silence_expire(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    done = with_store(settings, lambda s: silences.expire(s, args.id, now=time.time()))
    if not done:
        print(f"failwatch: no running silence {args.id}", file=sys.stderr)
        return 1
    print(f"expired {args.id}")
    return 0


def _outbox_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    status = None if args.status == "all" else args.status
    rows = with_store(
        settings,
        lambda s: s.read(lambda tx: outbox.list_rows(tx, status=status, limit=args.limit)),
    )
    for row in rows:
        print(json.dumps(row.describe()))
    return 0


def _outbox_retry(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    ids = list(args.ids) or None
    count = with_store(
        settings,
        lambda s: s.write(lambda tx: outbox.requeue_dead(tx, ids, now=time.time())),
    )
    print(f"requeued {count} notification(s)")
    return 0


def _store_stats(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    for table in with_store(settings, lambda s: s.read(retention.stats)):
        print(
            json.dumps(
                {
                    "table": table.table,
                    "rows": table.rows,
                    "bytes": table.bytes,
                    "oldest": iso(table.oldest) if table.oldest is not None else None,
                }
            )
        )
    return 0


def _store_prune(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    policy = settings.retention.policy()
    report = with_store(
        settings, lambda s: prune_once(s, policy, now=time.time(), dry_run=args.dry_run)
    )
    verb = "would delete" if args.dry_run else "deleted"
    for table, count in report.deleted.items():
        print(f"{verb} {count} row(s) of {table}")
    return 0


def current_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc)
