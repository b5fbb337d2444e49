"""Prompts and user e-mails: left out unless configured, then sampled and cut short.

With the flags off no prompt may reach the state store or a notification; with
`include_prompts` each error carries the first prompt seen with it; with
`include_user_emails` the delivery worker looks up a few users' addresses just before
sending, and a lookup that fails never holds the notification back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from receiver.intake.pipeline import PROMPT_CHARS
from receiver.store.tx import Tx
from receiver.supabase.auth_admin import SupabaseAuthAdmin
from tests.loops.harness import engine
from tests.serving import free_port
from tests.standins.supabase_auth import SupabaseAuthStandIn, serving

pytestmark = pytest.mark.anyio

SECRET_PROMPT = "SECRET PROMPT"
SERVICE_KEY = "service-role-key-for-tests"
USERS = [str(uuid.UUID(int=i + 1)) for i in range(7)]


def _stored_prompts(tx: Tx) -> list[object]:
    failures = tx.fetchall("SELECT prompt FROM failures WHERE prompt IS NOT NULL")
    samples = tx.fetchall("SELECT sample_prompt FROM group_errors WHERE sample_prompt IS NOT NULL")
    outbox = tx.fetchall("SELECT payload FROM outbox")
    return [r[0] for r in failures + samples] + [r[0] for r in outbox if SECRET_PROMPT in str(r[0])]


async def test_without_include_prompts_no_prompt_is_stored_or_sent(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await e.fail(prompt=SECRET_PROMPT)
        e.clock.advance(30)
        await e.settle()
        [sent] = e.recorder.sent
        assert [error.sample_prompt for error in sent.top_errors] == [None]
        assert SECRET_PROMPT not in sent.model_dump_json()
        assert await e.store.read(_stored_prompts) == []
    if state_url is None:  # SQLite: not even a stray copy in the file or its log
        assert _files_holding(tmp_path, "fw.db*", SECRET_PROMPT) == []


def _files_holding(folder: Path, pattern: str, text: str) -> list[str]:
    files = list(folder.glob(pattern))
    assert files
    return [f.name for f in files if text.encode() in f.read_bytes()]


async def test_include_prompts_keeps_the_first_prompt_of_each_error_cut_short(
    tmp_path: Path, state_url: str | None
) -> None:
    long = "a lighthouse at dusk " * 20
    async with engine(tmp_path, state_url=state_url, include_prompts=True) as e:
        await e.fail(error="Rate limit exceeded", prompt=long)
        await e.fail(error="Rate limit exceeded", prompt="a later prompt")
        await e.fail(error="Rate limit exceeded (quota)", prompt="  ")
        await e.fail(error="Rate limit exceeded (quota)", prompt="  second  ")
        e.clock.advance(30)
        await e.settle()
        [sent] = e.recorder.sent
        samples = {error.message: error.sample_prompt for error in sent.top_errors}
        first = samples["Rate limit exceeded"]
        assert first is not None
        assert len(first) == PROMPT_CHARS
        assert first == long[: PROMPT_CHARS - 1] + "…"
        # A blank prompt is no sample; the next one with this error is.
        assert samples["Rate limit exceeded (quota)"] == "  second  "


async def test_a_flush_names_up_to_five_users_but_no_addresses_without_a_lookup(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        for user in reversed(USERS):
            await e.fail(user=user)
        e.clock.advance(30)
        await e.settle()
        [sent] = e.recorder.sent
        assert sent.users_affected == 7
        assert sent.sample_user_ids == tuple(USERS[:5])
        assert sent.sample_user_emails == ()


@pytest.fixture
def auth() -> Iterator[SupabaseAuthStandIn]:
    users: dict[str, str | None] = {USERS[0]: "ada@example.com", USERS[1]: None}
    users[USERS[2]] = "grace@example.com"
    with serving(SupabaseAuthStandIn(service_role_key=SERVICE_KEY, users=users)) as stand_in:
        yield stand_in


def _admin(url: str, key: str, http: httpx.AsyncClient) -> SupabaseAuthAdmin:
    return SupabaseAuthAdmin(project_url=url, service_role_key=SecretStr(key), http=http)


async def _sent_emails(tmp_path: Path, url: str, key: str) -> tuple[str, ...]:
    async with (
        httpx.AsyncClient(timeout=5.0, trust_env=False) as http,
        engine(
            tmp_path,
            emails=_admin(url, key, http).emails,
            include_user_emails=True,
            supabase_url=url,
            supabase_service_role_key=key,
        ) as e,
    ):
        for user in USERS[:4]:
            await e.fail(user=user)
        e.clock.advance(30)
        await e.settle()
        [sent] = e.recorder.sent
        return sent.sample_user_emails


async def test_the_users_emails_come_from_supabase_auth(
    tmp_path: Path, auth: SupabaseAuthStandIn
) -> None:
    emails = await _sent_emails(tmp_path, auth.url, SERVICE_KEY)
    # The fourth user is unknown to Auth, the second has no address.
    assert emails == ("ada@example.com", "grace@example.com")
    assert len(auth.requests_to("/auth/v1/admin/users/")) == 4


async def test_a_refused_key_sends_without_emails_and_logs_no_key(
    tmp_path: Path, auth: SupabaseAuthStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-service-role-key"
    with caplog.at_level(logging.WARNING):
        assert await _sent_emails(tmp_path, auth.url, wrong) == ()
    assert auth.requests_to("/auth/v1/admin/users/")  # it did ask, and was refused
    assert any("refused" in r.getMessage() for r in caplog.records)
    assert wrong not in caplog.text
    assert not any(wrong in str(vars(r)) for r in caplog.records)


async def test_an_unreachable_auth_api_sends_without_emails(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there any more
    assert await _sent_emails(tmp_path, down, SERVICE_KEY) == ()


async def test_a_lookup_that_raises_never_holds_the_notification_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(user_ids: Sequence[str]) -> dict[str, str | None]:
        raise RuntimeError("lookup bug")

    with caplog.at_level(logging.WARNING, logger="failwatch.delivery"):
        async with engine(tmp_path, emails=broken) as e:
            await e.fail(user=USERS[0])
            e.clock.advance(30)
            await e.settle()
            [sent] = e.recorder.sent
            assert sent.sample_user_emails == ()
    assert [r.getMessage() for r in caplog.records if r.name == "failwatch.delivery"] == [
        "user e-mail lookup failed; sending without e-mails"
    ]
