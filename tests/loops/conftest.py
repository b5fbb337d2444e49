"""The loops run the engine against a real store: every test on SQLite and PostgreSQL."""

from tests.store.conftest import state_url

__all__ = ["state_url"]
