"""The alerting benchmark's judging logic (no servers, no timing: `make test` asserts no
speed): what counts as a notification, which group a reply belongs to, and when a first
message is late or a final count wrong."""

from __future__ import annotations

from tests.bench.alerting import schedule
from tests.bench.alerting_report import (
    AlertingSettings,
    Cores,
    OutboxFact,
    SlackCall,
    StoredGroup,
    analyse,
    percentile,
    slack_call,
)
from tests.bench.openloop import LoadResult, Sent

SETTINGS = AlertingSettings(
    failures=4, seconds=20.0, group_wait=2.0, group_interval=10.0, rate_per_second=1, burst=3
)
T0 = 1_000_000.0


def _header(count: int, title: str) -> dict[str, object]:
    return {
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"🔥 {count} failures · {title}"},
            }
        ]
    }


def _sent(tag: str, planned: float, *, status: int = 202, outcome: str = "accepted") -> Sent:
    return Sent(tag, planned, 0.0, 0.004, status, outcome)


def test_headers_and_threads_are_read_from_the_calls() -> None:
    post = slack_call(
        "chat.postMessage", T0, _header(7, "rate_limit · sdxl"), {"ok": True, "ts": "1.1"}
    )
    update = slack_call(
        "chat.update", T0, {**_header(9, "rate_limit · sdxl"), "ts": "1.1"}, {"ok": True}
    )
    reply = slack_call(
        "chat.postMessage", T0, {"text": "+2", "thread_ts": "1.1"}, {"ok": True, "ts": "1.2"}
    )
    assert (post.title, post.count, post.ts, post.in_thread) == (
        "rate_limit · sdxl",
        7,
        "1.1",
        False,
    )
    assert (update.count, update.ts) == (9, "1.1")
    assert (reply.in_thread, reply.ts, reply.title) == (True, "1.1", None)


def test_a_late_first_message_and_a_wrong_final_count_are_reported() -> None:
    a, b = "rate_limit · sdxl", "timeout · sdxl"
    load = LoadResult(
        started_at=T0,
        sent=[
            _sent(a, 0.0),
            _sent(b, 0.01),
            _sent(a, 5.0),
            _sent(b, 5.0, status=503, outcome="error"),
        ],
        cpu_seconds=0.1,
    )
    calls = [
        SlackCall("chat.postMessage", T0 + 2.1, True, False, "1.1", a, 1),
        SlackCall("chat.postMessage", T0 + 4.5, True, False, "1.2", b, 1),  # 4.49 s: late
        SlackCall("chat.update", T0 + 12.1, True, False, "1.1", a, 2),
        SlackCall("chat.postMessage", T0 + 12.2, True, True, "1.1", None, None),
        SlackCall("chat.update", T0 + 12.3, False, False, "1.2", b, 5),  # refused: not counted
    ]
    stored = [StoredGroup(a, 2, T0 + 0.002), StoredGroup(b, 2, T0 + 0.012)]
    outbox = [
        OutboxFact(a, 1, T0 + 2.0, T0 + 2.1, "sent"),
        OutboxFact(b, 1, T0 + 2.0, None, "dead"),
    ]
    result = analyse(
        name="t",
        description="",
        settings=SETTINGS,
        load=load,
        calls=calls,
        stored=stored,
        outbox=outbox,
        server_fraction_within_target=1.0,
        cores=Cores(0, 0, 0, 0),
    )
    first, second = result.groups
    assert (first.accepted, first.final_count, first.posts, first.updates, first.replies) == (
        2,
        2,
        1,
        1,
        1,
    )
    assert first.first_delay is not None
    assert first.first_delay < SETTINGS.group_wait + 1
    assert second.first_delay is not None
    assert second.first_delay > SETTINGS.group_wait + 1
    assert (second.accepted, second.stored, second.final_count) == (1, 2, 1)
    assert (result.notifications, result.replies, result.bound) == (3, 1, 2 * 3)
    assert (result.outbox_sent, result.outbox_other) == (1, 1)
    assert result.answers == {"accepted": 3, "503 error": 1}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([3.0], 99.9) == 3.0


def test_staggered_groups_open_one_after_another() -> None:
    planned = schedule(["a", "b", "c"], failures=30, seconds=3.0, stagger=1.0)
    first_seen = {tag: at for at, tag in reversed(planned)}
    # A group's first failure comes within one round of the open groups after it opens.
    assert first_seen["a"] == 0.0
    assert 1.0 <= first_seen["b"] <= 1.0 + 2 * 0.1
    assert 2.0 <= first_seen["c"] <= 2.0 + 3 * 0.1
    together = schedule(["a", "b", "c"], failures=30, seconds=3.0, stagger=0.0)
    assert [tag for _, tag in together[:6]] == ["a", "b", "c", "a", "b", "c"]
