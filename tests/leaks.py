"""Distinctive secret values, and checks that none of them leaked into some text."""

from __future__ import annotations

import pytest

# A distinctive value per secret setting, to look for wherever text leaves failwatch.
SECRETS = {
    "webhook_secret": "whsec-leak-1a2b",
    "admin_token": "admin-leak-3c4d",
    "database_url": "postgresql://app:dbpass-leak-5e6f@db.example.com/postgres",
    "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/slackhook-leak-7a8b",
    "slack_bot_token": "xoxb-leak-9c0d",
    "smtp_password": "smtppass-leak-1e2f",
    "supabase_service_role_key": "service-role-leak-3a4b",
    "supabase_jwt_secret": "jwt-secret-leak-5c6d",
}


def set_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(f"FAILWATCH_{name.upper()}", value)


def assert_no_secret_in(text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text, f"{name} leaked"
    assert "dbpass-leak" not in text
