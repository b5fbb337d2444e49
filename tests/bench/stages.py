"""Instructions per call of each stage of a failure's path, one stage at a time.

The instructions suite counts whole requests; this counts the pieces — the body's
parse, the pipeline and its classifier and fingerprint, the log line, the request
histogram — so that a change to one of them can be measured alone:
`python -m tests.bench.stages` runs itself under callgrind (`--measure`), calling each
stage `--calls` times between the marks of `inprocess.py`, after 200 unmeasured calls,
and prints the instructions per call. The same message every call, as in the webhook
suite, so the classifier's and the fingerprint's caches hit (`--cold` empties them
before every call, as for a message never seen).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from receiver import logs
from receiver.intake.classify_rules import DEFAULT_CLASSIFIER
from receiver.intake.filter import became_failed
from receiver.intake.fingerprint import _normalized, fingerprint
from receiver.intake.ingest import error_details, parse_webhook
from receiver.intake.pipeline import failure_from_row, process_webhook
from receiver.metrics import Metrics
from receiver.model import FailureKind, Ignored, Source
from tests.bench.instructions import CALLGRIND_ENV, dump_counts, under_callgrind
from tests.bench.payloads import ID_PLACEHOLDER, failure_body

WARMUP = 200


def stages() -> dict[str, Callable[[], object]]:
    body = failure_body().replace(ID_PLACEHOLDER, "8f3a9c2e-0000-4000-8000-000000000001")
    raw = body.encode()
    record = became_failed(parse_webhook(raw), schema="public", table="generations")
    if isinstance(record, Ignored):
        raise SystemExit(f"the suite's failure body was ignored: {record.reason}")
    details = error_details(record)
    failure = process_webhook(raw)
    if isinstance(failure, Ignored):
        raise SystemExit(f"the suite's failure body was ignored: {failure.reason}")
    log = logging.getLogger("failwatch.webhook")
    # The webhook's line for an accepted failure.
    fields = {"outcome": "accepted", "status": 202, "duration_ms": 1.23}
    fields |= {"generation_id": failure.generation_id, "category": failure.category}
    fields |= {"model_id": failure.model_id, "fingerprint": failure.fingerprint}
    histogram = Metrics().request_duration.labels("receive_webhook")
    return {
        "parse_webhook (json.loads and the envelope)": lambda: parse_webhook(raw),
        "error_details": lambda: error_details(record),
        "classify": lambda: DEFAULT_CLASSIFIER.classify(details),
        "fingerprint": lambda: fingerprint("rate_limit", "flux-pro", details.message),
        "failure_from_row (all of the above but the parse)": lambda: failure_from_row(
            record,
            kind=FailureKind.FAILED,
            source=Source.WEBHOOK,
        ),
        "process_webhook (parse to Failure)": lambda: process_webhook(raw),
        "log line (logs.log_fields)": lambda: logs.log_fields(log, logging.INFO, "webhook", fields),
        "log line (logger.info)": lambda: log.info("webhook", extra=fields),
        "request histogram": lambda: histogram.observe(0.0012),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.stages", description=__doc__)
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--cold", action="store_true", help="no cache hits")
    parser.add_argument("--measure", action="store_true", help="(run under callgrind)")
    args = parser.parse_args(argv)
    if args.measure:
        _measure(calls=args.calls, cold=args.cold)
        return 0
    with tempfile.TemporaryDirectory(prefix="failwatch-stages-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = under_callgrind(
            out,
            "tests.bench.stages",
            "--measure",
            f"--calls={args.calls}",
            *(["--cold"] if args.cold else []),
        )
        done = subprocess.run(command, env=CALLGRIND_ENV, capture_output=True, check=True)
        names = json.loads(done.stdout.decode().splitlines()[-1])
        counts = dump_counts(out)[1:]  # the first dump is the empty section
    for name, count in zip(names, counts, strict=True):
        print(f"| {name} | {count / args.calls:,.0f} |")
    return 0


def _measure(*, calls: int, cold: bool) -> None:
    # As `serve` logs (logs.configure), into /dev/null.
    logs.configure("info")
    handler = logs.LineHandler(os.open(os.devnull, os.O_WRONLY))
    handler.setFormatter(logs.JSONFormatter())
    logging.getLogger().handlers[:] = [handler]
    measured = stages()
    if cold:
        measured = {name: _cold(stage) for name, stage in measured.items()}
    for stage in measured.values():
        for _ in range(WARMUP):
            stage()
    sys.getswitchinterval()
    sys.getallocatedblocks()
    for stage in measured.values():
        sys.getswitchinterval()  # mark: start
        for _ in range(calls):
            stage()
        sys.getallocatedblocks()  # mark: end
    print(json.dumps(list(measured)))


def _cold(stage: Callable[[], object]) -> Callable[[], object]:
    def called() -> object:
        _normalized.cache_clear()
        DEFAULT_CLASSIFIER._by_message.cache_clear()
        return stage()

    return called


if __name__ == "__main__":
    raise SystemExit(main())
