"""The dispatcher's cost in CPU instructions, for comparing two checkouts (callgrind).

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        <checkout>/.venv/bin/python tests/bench/dispatch_cost.py --phase all

`--phase setup` stores the failures only; `--phase all` also sorts them into groups and
flushes every group twice (first message, then an update): the difference between the
two counts is what the dispatcher costs. It uses only what every checkout since the
house has (store, intake, dispatcher), so the same file measures main and a branch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile

from receiver.config.settings import load_settings
from receiver.intake.pipeline import failure_from_row
from receiver.loops.dispatcher import Dispatcher
from receiver.model import FailureKind, Source
from receiver.notifiers.registry import specs_by_receiver
from receiver.store import open_store

FAILURES = 2000
GROUPS = 20
START = 1_800_000_000.0


async def run(phase: str, folder: str) -> None:
    url = f"sqlite:///{folder}/fw.db"
    settings = load_settings(state_url=url)
    store = open_store(url)
    await store.open()
    now = START
    dispatcher = Dispatcher(
        store=store,
        root=settings.routes(),
        integrations=specs_by_receiver(settings),
        clock=lambda: now,
        budget=settings.budget_limit(),
    )
    for half in range(2):
        for i in range(FAILURES // 2):
            record = {
                "id": f"gen-{half}-{i}",
                "status": "failed",
                "model_id": f"model-{i % GROUPS}",
                "user_id": f"u{i % 97}",
                "parameters": json.dumps({"error": f"Rate limit exceeded {half}"}),
            }
            failure = failure_from_row(record, kind=FailureKind.FAILED, source=Source.WEBHOOK)
            await store.record_failure(failure, received_at=now)
        if phase == "all":
            now += 400  # past group_wait, then past group_interval
            while await dispatcher.pass_once():
                pass
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", choices=["setup", "all"], required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args.phase, folder))


if __name__ == "__main__":
    main()
