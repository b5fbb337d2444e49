"""`failwatch serve` as a real process, driven over real HTTP, stopped with SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.payloads import SECRET, WEBHOOK, auth, failed_insert, generation, supabase_body
from tests.serving import (
    READY_TIMEOUT,
    clean_environment,
    free_port,
    running_serve,
    stored_generation_ids,
)

pytestmark = pytest.mark.acceptance


def test_serve_accepts_dedups_ignores_refuses_and_stops_cleanly(tmp_path: Path) -> None:
    prompt = "a private prompt that must not be logged"
    with running_serve(tmp_path, FAILWATCH_WEBHOOK_SECRET=f"old-secret,{SECRET}") as server:
        with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
            accepted = client.post(WEBHOOK, content=failed_insert(prompt=prompt), headers=auth())
            duplicate = client.post(WEBHOOK, content=failed_insert(prompt=prompt), headers=auth())
            delete = supabase_body("DELETE", None, generation())
            ignored = client.post(WEBHOOK, content=delete, headers=auth())
            refused = client.post(WEBHOOK, content=failed_insert(id="g2"), headers=auth("nope"))
            metrics = client.get("/metrics").text
        code = server.stop()

    assert (accepted.status_code, accepted.json()) == (202, {"status": "accepted"})
    assert (duplicate.status_code, duplicate.json()) == (202, {"status": "duplicate"})
    assert (ignored.status_code, ignored.json()) == (202, {"status": "ignored", "reason": "delete"})
    assert refused.status_code == 401
    assert 'failwatch_webhook_events_total{outcome="accepted"} 1.0' in metrics

    # A graceful stop on SIGTERM is a clean exit.
    assert code == 0, server.log()
    logs = server.log_lines()  # every line is JSON: no stray tracebacks
    messages = [line["msg"] for line in logs]
    assert "failwatch stopped" in messages  # the lifespan closed the store
    assert "Application shutdown complete." in messages
    assert not [line for line in logs if line["level"] in ("error", "critical")]
    webhook_lines = [line for line in logs if line["msg"] == "webhook"]
    assert [line["outcome"] for line in webhook_lines] == [
        "accepted",
        "duplicate",
        # The ignored call is logged at debug only, and summed up once a minute (here: at
        # the stop).
        "unauthorized",
    ]
    summaries = [line for line in logs if line["msg"].startswith("ignored ")]
    assert [(s["msg"], s["ignored"]) for s in summaries] == [
        ("ignored 1 webhook: delete 1", {"delete": 1})
    ]
    text = server.log()
    assert SECRET not in text
    assert prompt not in text
    # The row is on disk, in a file that a fresh connection can read after the stop.
    assert stored_generation_ids(server.db_path) == [generation()["id"]]


def test_every_202_is_on_disk_when_sigterm_arrives_mid_load(tmp_path: Path) -> None:
    ids = [f"load-{n}" for n in range(400)]
    answered: dict[str, int] = {}

    def send(client: httpx.Client, generation_id: str) -> None:
        try:
            response = client.post(WEBHOOK, content=failed_insert(id=generation_id), headers=auth())
        except httpx.TransportError:
            return  # refused or cut off by the shutdown: not acknowledged, so not promised
        answered[generation_id] = response.status_code

    with (
        running_serve(tmp_path, FAILWATCH_WEBHOOK_SECRET=SECRET) as server,
        httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        futures = [pool.submit(send, client, generation_id) for generation_id in ids]
        deadline = time.monotonic() + READY_TIMEOUT
        while len(answered) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        code = server.stop()
        for future in futures:
            future.result()

    accepted = {gid for gid, status in answered.items() if status == 202}
    assert len(accepted) >= 50
    assert code == 0, server.log()
    assert accepted <= set(stored_generation_ids(server.db_path))


def test_serve_insecure_no_auth_accepts_without_a_secret(tmp_path: Path) -> None:
    with running_serve(tmp_path, "--insecure-no-auth") as server:
        response = httpx.post(
            f"{server.url}{WEBHOOK}", content=failed_insert(), timeout=10.0, trust_env=False
        )
        server.stop()
    assert response.json() == {"status": "accepted"}
    assert stored_generation_ids(server.db_path) == [generation()["id"]]


def run_serve_expecting_exit(state_dir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--port", str(free_port())],
        cwd=state_dir,
        env=clean_environment(
            **{"FAILWATCH_STATE_URL": f"sqlite:///{state_dir / 'failwatch.db'}", **variables}
        ),
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT,
        check=False,
    )


def test_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    done = run_serve_expecting_exit(tmp_path)
    assert done.returncode != 0
    assert "FAILWATCH_WEBHOOK_SECRET is not set" in done.stderr
    assert "--insecure-no-auth" in done.stderr
    assert not (tmp_path / "failwatch.db").exists()


def test_serve_refuses_to_start_with_a_bad_configuration(tmp_path: Path) -> None:
    done = run_serve_expecting_exit(
        tmp_path, FAILWATCH_WEBHOOK_SECRET=SECRET, FAILWATCH_MAX_BODY_BYTES="big"
    )
    assert done.returncode != 0
    assert "FAILWATCH_MAX_BODY_BYTES" in done.stderr
    assert SECRET not in done.stderr


def test_serve_exits_non_zero_when_the_state_store_cannot_open(tmp_path: Path) -> None:
    done = run_serve_expecting_exit(
        tmp_path,
        FAILWATCH_WEBHOOK_SECRET=SECRET,
        FAILWATCH_STATE_URL=f"sqlite:///{tmp_path / 'no-such-dir' / 'failwatch.db'}",
    )
    # One line naming the directory, not the traceback of a failed start-up.
    assert done.returncode == 1
    assert done.stderr == (
        f"failwatch: the state directory {tmp_path / 'no-such-dir'} does not exist: create it, "
        "or point FAILWATCH_STATE_URL at another file\n"
    )
