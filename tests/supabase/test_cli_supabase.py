"""`failwatch sql webhook|setup` and `failwatch db setup`."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess

import psycopg
import pytest

from receiver.cli.main import main
from receiver.supabase.setup_sql import setup_script
from tests.supabase.conftest import SourceDatabase
from tests.supabase.support import WEBHOOK_PREREQUISITE_STUBS as STUBS

SECRET = "cli-s3cret'\\"


def test_sql_webhook_prints_the_triggers_with_the_first_secret(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FAILWATCH_WEBHOOK_SECRET", f"{SECRET}, retired-secret")
    assert main(["sql", "webhook", "--url", "https://fw.example.com"]) == 0
    out, err = capsys.readouterr()
    assert "supabase_functions.http_request(" in out
    assert "'https://fw.example.com/webhooks/supabase'" in out
    assert '"x-supabase-webhook-source": "cli-s3cret\'\'\\\\\\\\"' in out
    assert "retired-secret" not in out
    assert err == ""
    assert all("cli-s3cret" not in record.getMessage() for record in caplog.records)


def test_sql_webhook_slim_uses_pg_net(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAILWATCH_WEBHOOK_SECRET", "s")
    assert main(["sql", "webhook", "--slim", "--url", "https://fw.example.com/hook"]) == 0
    out = capsys.readouterr().out
    assert "net.http_post(" in out
    assert "public.failwatch_webhook_slim('https://fw.example.com/hook'" in out


def test_sql_webhook_without_a_secret_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "webhook", "--url", "https://fw.example.com"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "FAILWATCH_WEBHOOK_SECRET is not set" in err


def test_sql_setup_prints_the_whole_setup(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "setup", "--reader-role", "fw_ro"]) == 0
    assert capsys.readouterr().out == setup_script(reader_role="fw_ro")


def test_a_bad_role_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "setup", "--reader-role", "x; DROP ROLE postgres"]) == 2
    assert "reader role" in capsys.readouterr().err


@pytest.mark.postgres
def test_db_setup_applies_everything_twice_and_the_webhook_on_request(
    source_db: SourceDatabase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        conn.execute(STUBS)
    monkeypatch.setenv("FAILWATCH_DATABASE_URL", source_db.dsn)
    monkeypatch.setenv("FAILWATCH_WEBHOOK_SECRET", SECRET)
    role = ["--reader-role", source_db.reader_role]
    assert main(["db", "setup", *role]) == 0
    first = capsys.readouterr().out
    webhook = ["--with-webhook", "--url", "https://fw.example.com/?token=abc", "--slim"]
    assert main(["db", "setup", *role, *webhook]) == 0
    second, err = capsys.readouterr()
    assert f"role {source_db.reader_role}" in first
    assert first.count("ok   index") == 4
    assert "ok   webhook (slim) -> https://fw.example.com/" in second
    assert "token=abc" not in second
    assert "cli-s3cret" not in second + err
    with psycopg.connect(source_db.dsn) as conn:
        triggers = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'failwatch_%'"
        ).fetchone()
    assert triggers == (2,)


@pytest.mark.postgres
def test_db_setup_skips_the_updated_at_index_when_there_is_no_such_column(
    source_db: SourceDatabase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE generations DROP COLUMN updated_at")
    monkeypatch.setenv("FAILWATCH_DATABASE_URL", source_db.dsn)
    assert main(["db", "setup", "--reader-role", source_db.reader_role]) == 0
    out = capsys.readouterr().out
    assert 'skip failwatch_generations_failed_updated_at: column "updated_at" does not exist' in out
    assert out.count("ok   index") == 3


@pytest.mark.postgres
def test_db_setup_rebuilds_an_index_left_invalid(
    source_db: SourceDatabase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAILWATCH_DATABASE_URL", source_db.dsn)
    assert main(["db", "setup", "--reader-role", source_db.reader_role]) == 0
    name = "failwatch_generations_failed_user"
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        # What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (name,)
        )
    capsys.readouterr()
    assert main(["db", "setup", "--reader-role", source_db.reader_role]) == 0
    assert f"note {name}: dropped an invalid" in capsys.readouterr().out
    with psycopg.connect(source_db.dsn) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (name,)
        ).fetchone()
    assert valid == (True,)


def test_db_setup_reports_an_unreachable_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("FAILWATCH_DATABASE_URL", f"postgresql://u:pw-123@127.0.0.1:{port}/x")
    assert main(["db", "setup"]) == 1
    err = capsys.readouterr().err
    assert "cannot use FAILWATCH_DATABASE_URL" in err
    assert "pw-123" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["db", "setup"], "FAILWATCH_DATABASE_URL is not set"),
        (["db", "setup", "--with-webhook"], "--with-webhook needs --url"),
        (["db", "setup", "--url", "https://x"], "--url and --slim go with --with-webhook"),
    ],
)
def test_db_setup_usage_errors(
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if args != ["db", "setup"]:
        monkeypatch.setenv("FAILWATCH_DATABASE_URL", "postgresql://127.0.0.1:1/x")
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.postgres
def test_the_printed_setup_runs_in_psql_twice(source_db: SourceDatabase) -> None:
    """What a user does with `failwatch sql setup | psql -f -`."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("SKIPPING: psql is not installed")
    script = setup_script(reader_role=source_db.reader_role)
    for _ in range(2):
        done = subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", source_db.dsn, "-f", "-"],
            input=script,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    with psycopg.connect(source_db.dsn) as conn:
        count = conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'failwatch_%'")
        assert count.fetchone() == (4,)
