"""SIGTERM under load: a stop loses nothing that was acknowledged.

A real `failwatch serve` takes many concurrent webhooks of distinct failures, plus one
request whose body is still arriving, when it gets SIGTERM. Afterwards every failure it
answered `202 accepted` is in the SQLite file, the file is intact, the in-flight request
was finished rather than dropped, the process exited 0 within the grace period, and the
next start serves again on the same file and delivers the notification it still owed.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.deploy.graceful import failure_body, in_flight_across_stop
from tests.deploy.manifests import shutdown_budget_seconds
from tests.serving import Server, clean_environment, free_port, running
from tests.standins.slack import SlackStandIn

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(180)]

SECRET = "sigterm-test-secret"
HEADERS = {"x-supabase-webhook-source": SECRET, "content-type": "application/json"}
CLIENTS = 48  # concurrent connections, like pg_net's worker sending a burst
STOP_AFTER = 400  # accepted failures before SIGTERM: well into the burst
BURST = 20_000  # more than can be sent before the stop, so the load never runs dry
# The time Kubernetes gives the process after its preStop sleep, before SIGKILL.
GRACE = shutdown_budget_seconds()


@dataclass
class Tally:
    sent: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)
    other: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0


async def _client(client: httpx.AsyncClient, ids: list[str], tally: Tally) -> None:
    while ids:
        generation_id = ids.pop()
        tally.sent.add(generation_id)
        try:
            answer = await client.post(
                "/webhooks/supabase", content=failure_body(generation_id), headers=HEADERS
            )
        except httpx.TransportError:
            tally.transport_errors += 1
            return  # the server stopped accepting; this client is done
        if answer.status_code == 202 and answer.json() == {"status": "accepted"}:
            tally.accepted.add(generation_id)
        else:
            tally.other[answer.status_code] = tally.other.get(answer.status_code, 0) + 1


async def load_then_sigterm(server: Server) -> tuple[Tally, httpx.Response, float]:
    """The burst, SIGTERM in the middle of it, and one request in flight across the stop."""
    tally = Tally()
    ids = [f"gen-{n:05d}" for n in range(BURST)]
    limits = httpx.Limits(max_connections=CLIENTS + 2, max_keepalive_connections=CLIENTS + 2)
    timeout = httpx.Timeout(GRACE)
    async with httpx.AsyncClient(
        base_url=server.url, limits=limits, timeout=timeout, trust_env=False
    ) as client:
        workers = [asyncio.create_task(_client(client, ids, tally)) for _ in range(CLIENTS)]
        while len(tally.accepted) < STOP_AFTER:
            if all(w.done() for w in workers):
                raise AssertionError(f"the burst ended early: {tally}\n{server.log()}")
            await asyncio.sleep(0.005)

        # One request whose headers are in but whose body is not: in flight at the stop.
        held_answer, stopped_at = await in_flight_across_stop(
            client, headers=HEADERS, stop=lambda: server.process.send_signal(signal.SIGTERM)
        )
        await asyncio.gather(*workers)
    return tally, held_answer, stopped_at


def stored_generation_ids(database: Path) -> tuple[str, set[str], int]:
    with sqlite3.connect(database) as conn:
        (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
        rows = [row[0] for row in conn.execute("SELECT generation_id FROM failures")]
    conn.close()
    return integrity, set(rows), len(rows)


def test_sigterm_under_load_keeps_every_accepted_failure(tmp_path: Path) -> None:
    database = tmp_path / "failwatch.db"
    env = {
        **clean_environment(),
        "FAILWATCH_STATE_URL": f"sqlite:///{database}",
        "FAILWATCH_WEBHOOK_SECRET": SECRET,
        "FAILWATCH_LOG_LEVEL": "warning",  # a log line per webhook would slow the burst
        "FAILWATCH_GROUP_WAIT": "1h",  # nothing is sent before the stop
    }

    def serve(port: int) -> list[str]:
        return [sys.executable, "-m", "receiver", "serve", "--port", str(port)]

    port = free_port()
    with running(
        serve(port), env=env, cwd=tmp_path, port=port, log_path=tmp_path / "first.log"
    ) as server:
        server.wait_ready()
        tally, held_answer, stopped_at = asyncio.run(load_then_sigterm(server))
        try:
            exit_code = server.process.wait(timeout=stopped_at + GRACE - time.monotonic())
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {GRACE} s after SIGTERM") from None

    assert exit_code == 0, server.log()
    assert (held_answer.status_code, held_answer.json()) == (202, {"status": "accepted"})
    accepted = tally.accepted | {"gen-in-flight"}
    assert tally.other == {}, f"unexpected answers during the burst: {tally.other}"
    assert len(accepted) > STOP_AFTER

    integrity, stored, rows = stored_generation_ids(database)
    assert integrity == "ok"
    assert rows == len(stored), "a failure was stored twice"
    assert accepted - stored == set(), "acknowledged failures were lost"
    # Anything stored but unacknowledged was committed while its answer was cut off.
    assert stored <= tally.sent | {"gen-in-flight"}

    # The first run held its failures back (group_wait 1 h); the next start owes them
    # to Slack, in one message for their one group.
    with SlackStandIn() as slack:
        port = free_port()
        env.update(FAILWATCH_GROUP_WAIT="0s", FAILWATCH_SLACK_WEBHOOK_URL=slack.webhook_url)
        with running(
            serve(port), env=env, cwd=tmp_path, port=port, log_path=tmp_path / "second.log"
        ) as again:
            again.wait_ready()
            slack.wait_for(lambda s: len(s.webhook_messages) >= 1)
            _send_more_after_restart(again, seen=sorted(accepted)[0])
    [message] = slack.webhook_messages
    assert str(message["text"]).startswith(
        f":hourglass_flowing_sand: {len(stored)} failures · rate_limit · flux-pro\n"
    )


def _send_more_after_restart(again: Server, *, seen: str) -> None:
    """The restarted server still knows what it stored, and takes new failures."""
    repeat = httpx.post(
        f"{again.url}/webhooks/supabase",
        content=failure_body(seen),
        headers=HEADERS,
        trust_env=False,
    )
    fresh = httpx.post(
        f"{again.url}/webhooks/supabase",
        content=failure_body("gen-after-restart"),
        headers=HEADERS,
        trust_env=False,
    )
    assert (repeat.status_code, repeat.json()) == (202, {"status": "duplicate"})
    assert (fresh.status_code, fresh.json()) == (202, {"status": "accepted"})
    assert again.stop(timeout=GRACE) == 0, again.log()
