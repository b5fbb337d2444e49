"""`failwatch sql webhook|setup` and `failwatch db setup`: set the Supabase side up.

`sql …` prints SQL on stdout, to read and to paste into the dashboard's SQL editor.
`db setup` applies it to `FAILWATCH_DATABASE_URL`, which for this one command must be an
admin connection (the `postgres` role); failwatch itself then connects as the read-only
role that the setup creates. The webhook secret comes from `FAILWATCH_WEBHOOK_SECRET` (the
first one during a rotation) and appears only inside the SQL that was asked for — never in
a message or a log line.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg

from receiver.config.settings import Settings, load_settings
from receiver.errors import ConfigError
from receiver.supabase.apply import apply_setup, apply_webhook
from receiver.supabase.setup_sql import (
    DEFAULT_READER_ROLE,
    check_reader_role,
    setup_script,
    url_for_display,
    webhook_sql,
)

WEBHOOK_PATH = "/webhooks/supabase"

SubParsers = argparse._SubParsersAction  # argparse exposes no public name for it


def register(subparsers: SubParsers[argparse.ArgumentParser]) -> None:
    """Add the `sql` and `db` commands to the `failwatch` parser."""
    sql_parser = subparsers.add_parser("sql", help="print the SQL that sets Supabase up")
    sql_commands = sql_parser.add_subparsers(dest="sql_command", metavar="WHAT", required=True)

    webhook = sql_commands.add_parser(
        "webhook", help="the webhook triggers (the output contains the webhook secret)"
    )
    _webhook_options(webhook, url_required=True)
    _config_option(webhook)
    webhook.set_defaults(handler=_print_webhook)

    setup = sql_commands.add_parser(
        "setup", help="the view, the stats function, the indexes and the read-only role"
    )
    _reader_role_option(setup)
    setup.set_defaults(handler=_print_setup)

    db_parser = subparsers.add_parser("db", help="apply the setup to FAILWATCH_DATABASE_URL")
    db_commands = db_parser.add_subparsers(dest="db_command", metavar="WHAT", required=True)
    apply = db_commands.add_parser(
        "setup", help="apply `sql setup` (and with --with-webhook, `sql webhook`)"
    )
    _reader_role_option(apply)
    apply.add_argument(
        "--with-webhook", action="store_true", help="also install the webhook triggers"
    )
    apply.add_argument(
        "--failure-rate",
        action="store_true",
        help="also the index of finished rows the failure-rate rules need (costs writes)",
    )
    _webhook_options(apply, url_required=False)
    _config_option(apply)
    apply.set_defaults(handler=_db_setup)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="YAML file (else $FAILWATCH_CONFIG)")


def _reader_role_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reader-role",
        default=DEFAULT_READER_ROLE,
        metavar="NAME",
        help=f"read-only role for failwatch (default {DEFAULT_READER_ROLE})",
    )


def _webhook_options(parser: argparse.ArgumentParser, *, url_required: bool) -> None:
    parser.add_argument(
        "--url",
        required=url_required,
        help=f"where Supabase reaches failwatch; a bare origin gets {WEBHOOK_PATH} appended",
    )
    parser.add_argument(
        "--slim",
        action="store_true",
        help="post a trimmed record through pg_net (for rows with large prompts)",
    )


def webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=WEBHOOK_PATH))
    return url


def _webhook_sql_for(settings: Settings, args: argparse.Namespace) -> str:
    secrets = settings.webhook_secrets()
    if not secrets:
        raise ConfigError(
            "FAILWATCH_WEBHOOK_SECRET is not set; the webhook must carry the shared secret"
        )
    return webhook_sql(url=webhook_url(args.url), secret=secrets[0].decode(), slim=args.slim)


def _print_webhook(args: argparse.Namespace) -> int:
    sys.stdout.write(_webhook_sql_for(load_settings(args.config), args))
    return 0


def _print_setup(args: argparse.Namespace) -> int:
    sys.stdout.write(setup_script(reader_role=args.reader_role))
    return 0


def _db_setup(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if settings.database_url is None:
        raise ConfigError("FAILWATCH_DATABASE_URL is not set (use an admin connection here)")
    check_reader_role(args.reader_role)
    webhook = None
    if args.with_webhook:
        if not args.url:
            raise ConfigError("--with-webhook needs --url")
        webhook = _webhook_sql_for(settings, args)
    elif args.url or args.slim:
        raise ConfigError("--url and --slim go with --with-webhook")
    try:
        with psycopg.connect(
            settings.database_url.get_secret_value(), autocommit=True, connect_timeout=10
        ) as conn:
            conn.add_notice_handler(lambda notice: print(notice.message_primary, file=sys.stderr))
            apply_setup(
                conn, reader_role=args.reader_role, report=print, failure_rate=args.failure_rate
            )
            if webhook is not None:
                apply_webhook(conn, webhook)
                variant = "slim" if args.slim else "full"
                print(f"ok   webhook ({variant}) -> {url_for_display(webhook_url(args.url))}")
    except psycopg.OperationalError as exc:
        print(f"failwatch: cannot use FAILWATCH_DATABASE_URL: {_message(exc)}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"failwatch: db setup failed: {_message(exc)}", file=sys.stderr)
        return 1
    print(
        f"Next: ALTER ROLE {args.reader_role} WITH LOGIN PASSWORD '…'; then point "
        "FAILWATCH_DATABASE_URL at that role."
    )
    return 0


def _message(exc: psycopg.Error) -> str:
    # The server's primary message only: the full text may quote the statement, and the
    # webhook statement holds the secret.
    primary = exc.diag.message_primary
    if primary:
        return primary
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
