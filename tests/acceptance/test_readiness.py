"""`/readyz` of a real `failwatch serve` says whether accepted failures will be sent
(issue 13): it fails while the store can answer reads but not commit, and while the
dispatcher fails every pass — both times when the old check (a read) said ready."""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.payloads import SECRET, WEBHOOK, auth, failed_insert
from tests.serving import Server, running_serve

pytestmark = pytest.mark.acceptance
DEADLINE = 30.0


def _ready(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/readyz", timeout=10.0, trust_env=False)


def _wait_for_readiness(server: Server, *, status: int) -> httpx.Response:
    deadline = time.monotonic() + DEADLINE
    while True:
        answer = _ready(server)
        if answer.status_code == status:
            return answer
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)


def test_readyz_fails_while_the_store_cannot_commit(tmp_path: Path) -> None:
    variables = {"FAILWATCH_WEBHOOK_SECRET": SECRET, "FAILWATCH_LOOP_STALL_AFTER": "2s"}
    with running_serve(tmp_path, **variables) as server:
        assert _ready(server).status_code == 200
        # Another process holds the write lock: reads still work (WAL), commits cannot,
        # so the dispatcher's passes (write transactions) stop completing.
        with closing(sqlite3.connect(server.db_path, isolation_level=None)) as blocker:
            blocker.execute("BEGIN IMMEDIATE")
            unready = _wait_for_readiness(server, status=503)
            blocker.execute("ROLLBACK")
        ready = _wait_for_readiness(server, status=200)

    assert unready.json()["store"] == "ok"  # it answers reads: the old check said ready
    assert unready.json()["loops"]["dispatcher"].startswith("dispatcher: no pass completed")
    assert ready.json()["loops"] == {"dispatcher": "ok", "delivery": "ok"}


def test_readyz_fails_while_the_dispatcher_fails_every_pass(tmp_path: Path) -> None:
    variables = {"FAILWATCH_WEBHOOK_SECRET": SECRET, "FAILWATCH_LOOP_STALL_AFTER": "2s"}
    with running_serve(tmp_path, **variables) as server:
        # As a corrupt page would: every write of the dispatcher's pass fails, while the
        # webhook's insert into `failures` still commits.
        with closing(sqlite3.connect(server.db_path, isolation_level=None)) as conn:
            conn.execute(
                "CREATE TRIGGER broken BEFORE UPDATE ON dispatch_cursor "
                "BEGIN SELECT RAISE(ABORT, 'database disk image is malformed'); END"
            )
        accepted = httpx.post(
            f"{server.url}{WEBHOOK}", content=failed_insert(), headers=auth(), timeout=10.0
        )
        unready = _wait_for_readiness(server, status=503)
        metrics = httpx.get(f"{server.url}/metrics", timeout=10.0, trust_env=False).text
        with closing(sqlite3.connect(server.db_path, isolation_level=None)) as conn:
            conn.execute("DROP TRIGGER broken")
        ready = _wait_for_readiness(server, status=200)
        server.stop()
        logs = server.log_lines()

    assert accepted.json() == {"status": "accepted"}
    body = unready.json()
    assert body["store"] == "ok"
    assert body["loops"]["delivery"] == "ok"
    assert body["loops"]["dispatcher"].startswith("dispatcher: no pass completed")
    assert "database disk image is malformed" in body["loops"]["dispatcher"]
    errors = re.search(r'failwatch_loop_errors_total\{loop="dispatcher"\} (\S+)', metrics)
    assert errors is not None
    assert float(errors.group(1)) >= 1
    assert ready.json()["loops"]["dispatcher"] == "ok"
    messages = [(line["msg"], line.get("loop")) for line in logs]
    assert ("background loop stalled", "dispatcher") in messages
    assert ("background loop recovered", "dispatcher") in messages
