"""The SQL failwatch installs in the Supabase database, rendered for printing or applying.

Decides how values enter that SQL: the webhook URL and the headers holding the secret
become SQL string literals (quotes doubled, backslashes escaped in an `E''` string, so any
byte sequence round-trips and none can end the literal early); the reader role's name must
be a plain lower-case identifier, so it can be written into statements and string literals
alike without quoting. Text that cannot be a header value (control characters) is refused
rather than escaped, since pg_net would send it as a header line.

The files live in `deploy/sql/` of the source tree; the wheel carries them as
`receiver/setup_sql/` (see `pyproject.toml`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import urlsplit

from receiver.errors import ConfigError

DEFAULT_READER_ROLE = "failwatch_reader"
WEBHOOK_TIMEOUT_MS = 5000
AUTH_HEADER = "x-supabase-webhook-source"

_PACKAGED = "setup_sql"
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INDEX_NAME = re.compile(r"IF NOT EXISTS\s+([a-z_][a-z0-9_]*)\s+ON\s", re.IGNORECASE)


def sql_dir() -> Traversable:
    """Where the SQL files are: inside the installed package, else the source checkout."""
    packaged = resources.files("receiver").joinpath(_PACKAGED)
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "deploy" / "sql"
    if checkout.is_dir():
        return checkout
    raise ConfigError("the setup SQL is missing from this installation of failwatch")


def read_sql(name: str) -> str:
    return sql_dir().joinpath(name).read_text(encoding="utf-8")


def sql_literal(value: str) -> str:
    """`value` as a SQL string constant, correct whatever `standard_conforming_strings` is."""
    if "\x00" in value:
        raise ValueError("PostgreSQL text cannot hold NUL characters")
    quoted = value.replace("'", "''")
    if "\\" in quoted:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


def check_reader_role(name: str) -> str:
    if not _ROLE.fullmatch(name):
        raise ConfigError(
            f"reader role {name!r}: use lower-case letters, digits and _ (at most 40)"
        )
    return name


def _fill(template: str, values: dict[str, str]) -> str:
    def value_for(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"no value for {{{{{key}}}}} in the SQL template")
        return values[key]

    return _PLACEHOLDER.sub(value_for, template)


# Setup: the view, the stats function, the reader role (one transaction) + indexes.


def setup_body(*, reader_role: str = DEFAULT_READER_ROLE) -> str:
    """The transactional part of the setup, without BEGIN/COMMIT (the caller owns those)."""
    return _fill(read_sql("setup.sql"), {"reader_role": check_reader_role(reader_role)})


@dataclass(frozen=True, slots=True)
class IndexStatement:
    name: str
    sql: str


def index_statements(name: str = "indexes.sql") -> list[IndexStatement]:
    """Each `CREATE INDEX CONCURRENTLY` of a file, to be run on its own outside a
    transaction."""
    # The file holds no string literals but the statuses of partial indexes (no `;` or
    # `--` in them), so comments go first and `;` then ends statements.
    lines = read_sql(name).splitlines()
    code_only = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    statements = []
    for chunk in code_only.split(";"):
        code = chunk.strip()
        if not code:
            continue
        found = _INDEX_NAME.search(code)
        if found is None:
            raise ValueError(f"{name}: not a named CREATE INDEX: {code[:60]!r}")
        statements.append(IndexStatement(found.group(1), code))
    return statements


def setup_script(*, reader_role: str = DEFAULT_READER_ROLE) -> str:
    """Everything `failwatch sql setup` prints: one transaction, then the indexes."""
    indexes = read_sql("indexes.sql").rstrip()
    return f"BEGIN;\n\n{setup_body(reader_role=reader_role).rstrip()}\n\nCOMMIT;\n\n{indexes}\n"


# Webhook: URL and secret are data, never code.


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--url: expected an http(s) URL, got {url_for_display(url)!r}")
    if _CONTROL.search(url) or " " in url:
        raise ConfigError("--url: must not contain spaces or control characters")
    return url


def webhook_headers(secret: str) -> dict[str, str]:
    """The headers the dashboard's webhook sends, with failwatch's shared secret."""
    if not secret or _CONTROL.search(secret):
        raise ConfigError(
            "FAILWATCH_WEBHOOK_SECRET: the secret must be non-empty and free of control "
            "characters to travel in an HTTP header"
        )
    return {"Content-type": "application/json", AUTH_HEADER: secret}


def webhook_sql(
    *, url: str, secret: str, slim: bool = False, timeout_ms: int = WEBHOOK_TIMEOUT_MS
) -> str:
    """The triggers that post transitions into `failed` to `url` (contains the secret)."""
    if not 1000 <= timeout_ms <= 10000:
        raise ConfigError("webhook timeout: pg_net accepts 1000 to 10000 ms")
    headers = json.dumps(webhook_headers(secret), ensure_ascii=False, separators=(", ", ": "))
    values = {
        "url": sql_literal(check_webhook_url(url)),
        "headers": sql_literal(headers),
        "timeout_ms": sql_literal(str(timeout_ms)),
    }
    return _fill(read_sql("webhook_slim.sql" if slim else "webhook.sql"), values)


def url_for_display(url: str) -> str:
    """A URL without its query and credentials: safe for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else "(not a URL)"
