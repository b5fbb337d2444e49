"""The console under test: an app on a real SQLite file with an admin token, a client
that signs in the way a browser does, and hostile text to seed it with."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from receiver.config.settings import load_settings
from receiver.web.app import create_app
from tests.loops.harness import Recorder
from tests.payloads import SECRET, auth, failed_insert, generation

TOKEN = "console-admin-t0ken"
HOSTILE_MODEL = "<script>alert(1)</script>"
HOSTILE_ERROR = '"><img src=x onerror=alert(2)> rate limit exceeded (429)'
HOSTILE_MARKERS = ("<script>alert(1)", "<img src=x onerror")

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def console_app(tmp_path: Path, *, insecure_no_auth: bool = False, **settings: Any) -> Starlette:
    values: dict[str, Any] = {
        "state_url": f"sqlite:///{tmp_path}/fw.db",
        "admin_token": TOKEN,
        "webhook_secret": SECRET,
    }
    values.update(settings)
    return create_app(
        load_settings(**{k: v for k, v in values.items() if v is not None}),
        notifiers={("default", "console"): Recorder()},
        insecure_no_auth=insecure_no_auth,
    )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    """GET /login, then POST the form with its CSRF token, as a browser would."""
    form = await client.get("/login")
    return await client.post("/login", data={"csrf": csrf_of(form.text), "token": token})


async def page_csrf(client: httpx.AsyncClient, path: str = "/silences") -> str:
    return csrf_of((await client.get(path)).text)


def hostile_generation() -> dict[str, Any]:
    """A failed generation whose model, user and error are hostile HTML."""
    row = generation(id=str(uuid.uuid4()), model_id=HOSTILE_MODEL, user_id=HOSTILE_MODEL)
    row["parameters"]["error"] = HOSTILE_ERROR
    row["parameters"]["errorContext"]["message"] = HOSTILE_ERROR
    return row


async def seed_failures(client: httpx.AsyncClient, *, hostile: bool = True, count: int = 3) -> None:
    """Failures through the webhook: a few ordinary ones and, if asked, hostile ones."""
    rows = [
        generation(id=str(uuid.uuid4()), model_id="flux-pro", user_id=f"user-{i % 2}")
        for i in range(count)
    ]
    if hostile:
        rows += [hostile_generation(), hostile_generation()]
    for i, row in enumerate(rows):
        row["parameters"]["errorContext"]["timestamp"] = f"2024-05-01T12:01:{i:02d}.000Z"
        body = failed_insert(**row)
        response = await client.post("/webhooks/supabase", content=body, headers=auth())
        assert response.status_code == 202, response.text


def assert_escaped(html: str) -> None:
    for marker in HOSTILE_MARKERS:
        assert marker not in html, f"unescaped {marker!r} in the page"


async def seed_dead_letter(app: Starlette, *, error: str = HOSTILE_ERROR) -> int:
    """One notification that the delivery worker gave up on, with a hostile title."""
    from receiver.model import Notification, Reason
    from receiver.store import outbox
    from receiver.store.tx import Tx

    notification = Notification(
        id=str(uuid.uuid4()),
        receiver="default",
        group_key="g",
        episode=1,
        sequence=1,
        reason=Reason.FIRST,
        labels={"category": "rate_limit", "model_id": HOSTILE_MODEL},
        window_failures=2,
        episode_failures=2,
        users_affected=1,
        first_seen=1.0,
        last_seen=2.0,
        created_at=2.0,
    )

    def write(tx: Tx) -> int:
        # Made now: the app's pruner deletes dead letters older than 30 days.
        outbox.enqueue(tx, notification, [("s", "default", "console", "recorder")], time.time())
        row = tx.fetchone("SELECT id FROM outbox WHERE notification_id = ?", (notification.id,))
        assert row is not None
        tx.execute(
            "UPDATE outbox SET status = 'dead', last_error = ?, due_at = ? WHERE id = ?",
            (error, 4e9, row[0]),
        )
        return int(row[0])

    result: int = await app.state.services.store.write(write)
    return result
