"""Three `failwatch serve` replicas on one PostgreSQL state: every event sent to two of
them, one replica `kill -9`ed mid-burst and restarted. Slack sees one message per group,
each updated to the exact number of distinct failures accepted — nothing twice, nothing
lost."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.payloads import SECRET, WEBHOOK, auth, failed_insert
from tests.postgres import scratch_database
from tests.serving import Server, running_serve
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.acceptance

GROUPS = 6
EVENTS = 300


@pytest.fixture
def state_dsn() -> Iterator[str]:
    with scratch_database("fw_replicas") as dsn:
        yield dsn


def test_three_replicas_agree_through_postgres(tmp_path: Path, state_dsn: str) -> None:
    with SlackStandIn() as slack, ExitStack() as stack:
        env = {
            "FAILWATCH_STATE_URL": state_dsn,
            "FAILWATCH_WEBHOOK_SECRET": SECRET,
            "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
            "FAILWATCH_SLACK_CHANNEL": "#alerts",
            "FAILWATCH_SLACK_API_URL": slack.api_url,
            "FAILWATCH_GROUP_WAIT": "1s",
            "FAILWATCH_GROUP_INTERVAL": "2s",
            "FAILWATCH_DELIVERY__LEASE": "3s",
        }
        dirs = [tmp_path / f"replica-{i}" for i in range(3)]
        for folder in dirs:
            folder.mkdir()
        replicas: list[Server] = [stack.enter_context(running_serve(d, **env)) for d in dirs]

        accepted: set[str] = set()
        clients = [httpx.Client(base_url=r.url, timeout=10.0, trust_env=False) for r in replicas]
        for i in range(EVENTS):
            generation_id = str(uuid.uuid4())
            body = failed_insert(
                id=generation_id,
                model_id=f"model-{i % GROUPS}",
                parameters={"error": "Rate limit exceeded (429)"},
            )
            if i == EVENTS // 2:  # one replica dies mid-burst
                replicas[2].process.send_signal(signal.SIGKILL)
                replicas[2].process.wait(timeout=10)
            # The same event to two replicas, as a retrying load balancer might.
            for client in (clients[i % 2], clients[(i % 2) + 1]):
                try:
                    response = client.post(WEBHOOK, content=body, headers=auth())
                except httpx.TransportError:
                    continue  # the killed replica
                if response.json().get("status") == "accepted":
                    accepted.add(generation_id)
        for client in clients:
            client.close()
        replicas[2] = stack.enter_context(running_serve(dirs[2], **env))

        expected = {f"model-{g}": EVENTS // GROUPS for g in range(GROUPS)}
        slack.wait_for(lambda s: _counts(s) == expected, timeout=60)
        for replica in replicas:
            assert replica.stop() == 0

    assert len(accepted) == EVENTS  # every event was accepted by at least one replica
    with psycopg.connect(state_dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM failwatch.failures").fetchone()
    assert stored is not None
    assert stored[0] == EVENTS
    posts = Counter(
        c.body.get("channel")
        for c in slack.calls
        if c.method == "chat.postMessage" and "thread_ts" not in c.body and c.status == 200
    )
    # One top-level message per group; the kill may repeat at most the one in flight.
    assert GROUPS <= sum(posts.values()) <= GROUPS + 1
    assert len(slack.messages) == sum(posts.values())


def _counts(slack: SlackStandIn) -> dict[str, int]:
    """Each group's latest announced total, from the message headers."""
    counts: dict[str, int] = {}
    for message in slack.messages.values():
        title = message.header.split(" ", 1)[1]  # "50 failures · rate_limit · model-3"
        total, _, rest = title.partition(" failures · ")
        model = rest.rsplit(" · ", 1)[1]
        counts[model] = max(counts.get(model, 0), int(total))
    return counts
