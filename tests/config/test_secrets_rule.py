"""One rule for every secret (issue 13): surrounding white space is dropped when it is
loaded, an empty one counts as unset, and a presented credential is trimmed the same way
in every header it may come in."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from receiver.config.settings import Settings, load_settings
from tests.asgi import serving
from tests.payloads import WEBHOOK, failed_insert
from tests.webapp import make_app

SECRETS = [
    name
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation) and name != "state_url"
]


def test_every_secret_setting_is_covered() -> None:
    # The rule is applied by type: a secret setting added later is covered too.
    assert {"webhook_secret", "admin_token", "supabase_jwt_secret", "database_url"} <= set(SECRETS)


@pytest.mark.parametrize("name", SECRETS)
@pytest.mark.parametrize(
    ("given", "loaded"),
    [
        # A trailing newline, as a Kubernetes Secret file or `echo` leaves it.
        ("s3cret-value\n", "s3cret-value"),
        # Spaces and tabs around it.
        ("  \ts3cret-value  ", "s3cret-value"),
        # Inner white space is the secret's own.
        ("s3cret value", "s3cret value"),
        # Empty, or only white space: not set at all.
        ("", None),
        ("  \n", None),
    ],
)
def test_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, name: str, given: str, loaded: str | None
) -> None:
    monkeypatch.setenv(f"FAILWATCH_{name.upper()}", given)
    if name == "database_url" and loaded is not None:
        given = loaded = "postgresql://reader@db.example/postgres"
        monkeypatch.setenv("FAILWATCH_DATABASE_URL", f" {given}\n")
    value = getattr(load_settings(), name)
    assert (value.get_secret_value() if isinstance(value, SecretStr) else value) == loaded


def test_an_empty_state_url_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWATCH_STATE_URL", " ")
    assert load_settings().state_url.get_secret_value() == "sqlite:///./failwatch.db"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "header",
    [
        "x-webhook-secret",
        "x-supabase-webhook-source",
        "authorization",
    ],
)
async def test_a_presented_secret_is_trimmed_in_every_header(tmp_path: Path, header: str) -> None:
    secret = "rotated-s3cret"
    value = f"Bearer {secret} " if header == "authorization" else f"{secret} "
    async with serving(make_app(tmp_path, webhook_secret=f"{secret}\n")) as client:
        response = await client.post(
            WEBHOOK,
            content=failed_insert(),
            headers={"content-type": "application/json", header: value},
        )
    assert response.json() == {"status": "accepted"}
