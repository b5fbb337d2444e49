"""Rendering the SQL: values quoted as data, refused when they cannot be, packaged files."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import psycopg
import pytest

from receiver.errors import ConfigError
from receiver.supabase.setup_sql import (
    check_reader_role,
    index_statements,
    setup_script,
    sql_dir,
    sql_literal,
    webhook_headers,
    webhook_sql,
)
from tests.supabase.conftest import SourceDatabase
from tests.supabase.support import WEBHOOK_PREREQUISITE_STUBS as STUBS

TRICKY_SECRET = "it's \\ a \"secret\" ' \\' E'x'"
TRICKY_URL = "https://fw.example.com/webhooks/supabase?q=it's\\'%27"


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ("back\\slash", "E'back\\\\slash'"),
        ("\\'", "E'\\\\'''"),
        ("", "''"),
    ],
)
def test_sql_literal(value: str, literal: str) -> None:
    assert sql_literal(value) == literal


def test_sql_literal_refuses_nul() -> None:
    with pytest.raises(ValueError, match="NUL"):
        sql_literal("a\x00b")


@pytest.mark.postgres
@pytest.mark.parametrize("conforming", ["on", "off"])
def test_literals_read_back_as_the_same_text_in_postgres(pg_dsn: str, conforming: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"SET standard_conforming_strings = {conforming}")
        for value in (TRICKY_SECRET, TRICKY_URL, "ünï©ødé ✓"):
            row = conn.execute(f"SELECT {sql_literal(value)}").fetchone()
            assert row == (value,)


@pytest.mark.parametrize("name", ["failwatch_reader", "fw_2", "_x"])
def test_reader_role_names_that_are_plain_identifiers_pass(name: str) -> None:
    assert check_reader_role(name) == name


@pytest.mark.parametrize(
    "name", ["", "Reader", "reader-1", "r'; DROP TABLE generations; --", "x" * 41, "1abc"]
)
def test_other_reader_role_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="reader role"):
        check_reader_role(name)


@pytest.mark.parametrize("secret", ["", "line\nbreak", "carriage\rreturn", "nul\x00"])
def test_secrets_that_cannot_be_header_values_are_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="FAILWATCH_WEBHOOK_SECRET"):
        webhook_headers(secret)


@pytest.mark.parametrize(
    "url", ["ftp://x/y", "not a url", "http://", "http://host/with space", "http://h/\nx"]
)
def test_webhook_urls_must_be_http(url: str) -> None:
    with pytest.raises(ConfigError, match="--url"):
        webhook_sql(url=url, secret="s")


def test_the_timeout_stays_in_the_dashboards_range() -> None:
    with pytest.raises(ConfigError, match="1000 to 10000"):
        webhook_sql(url="https://x/y", secret="s", timeout_ms=20000)


def test_the_sql_files_are_found_and_complete() -> None:
    names = {entry.name for entry in sql_dir().iterdir()}
    assert {"setup.sql", "indexes.sql", "webhook.sql", "webhook_slim.sql"} <= names
    assert [i.name for i in index_statements()] == [
        "failwatch_generations_failed_created_at",
        "failwatch_generations_failed_user",
        "failwatch_generations_processing_created_at",
        "failwatch_generations_failed_updated_at",
    ]
    script = setup_script(reader_role="some_reader")
    assert "{{" not in script
    assert script.startswith("BEGIN;")
    assert script.index("COMMIT;") < script.index("CREATE INDEX CONCURRENTLY")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("slim", "function", "expected_args"),
    [
        (False, "http_request", [TRICKY_URL, "POST", "HEADERS", "{}", "5000"]),
        (True, "failwatch_webhook_slim", [TRICKY_URL, "HEADERS", "5000"]),
    ],
)
def test_the_triggers_carry_url_and_secret_exactly(
    source_db: SourceDatabase, slim: bool, function: str, expected_args: list[str]
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        conn.execute(STUBS)
        conn.execute(webhook_sql(url=TRICKY_URL, secret=TRICKY_SECRET, slim=slim))
        conn.execute(webhook_sql(url=TRICKY_URL, secret=TRICKY_SECRET, slim=slim))  # re-run
        rows = conn.execute(
            "SELECT t.tgname, p.proname, t.tgargs FROM pg_trigger t "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal ORDER BY t.tgname"
        ).fetchall()
    assert [(name, proc) for name, proc, _ in rows] == [
        ("failwatch_failed_insert", function),
        ("failwatch_failed_update", function),
    ]
    position = expected_args.index("HEADERS")
    for _, _, raw in rows:
        args = bytes(raw).decode().split("\x00")[:-1]
        assert json.loads(args[position]) == {
            "Content-type": "application/json",
            "x-supabase-webhook-source": TRICKY_SECRET,
        }
        args[position] = "HEADERS"
        assert args == expected_args


@pytest.mark.postgres
def test_switching_variants_leaves_one_pair_of_triggers(source_db: SourceDatabase) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        conn.execute(STUBS)
        conn.execute(webhook_sql(url="https://a/b", secret="s", slim=True))
        conn.execute(webhook_sql(url="https://a/b", secret="s"))
        rows = conn.execute(
            "SELECT p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal"
        ).fetchall()
    assert rows == [("http_request",), ("http_request",)]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("slim", "message"),
    [(False, "supabase_functions.http_request() is missing"), (True, "net.http_post() is missing")],
)
def test_a_missing_prerequisite_is_named(
    source_db: SourceDatabase, slim: bool, message: str
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException) as caught:
            conn.execute(webhook_sql(url="https://a/b", secret="s", slim=slim))
        assert caught.value.diag.message_primary == message
        triggers = conn.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")
        assert triggers.fetchone() == (0,)


def test_the_wheel_maps_the_sql_into_the_package() -> None:
    """`sql_dir()` looks for `receiver/setup_sql` in an installed wheel; the build must put
    the files there (checked by hand with `uv build`, see the report in BENCHMARKS.md)."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    mapping = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert mapping == {"deploy/sql": "receiver/setup_sql"}
