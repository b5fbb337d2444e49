"""Real-shaped webhook bodies, and the wrk Lua scripts that send them with fresh ids.

pg_net sends `jsonb::text`: keys ordered the way jsonb stores them (shorter first, then
bytewise), `", "` and `": "` separators, UTF-8 as is. Every request gets its own
generation id (run nonce, wrk thread, per-thread counter), so each failure is new and
must be committed before its 202 — never answered `duplicate` from the unique index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

ID_PLACEHOLDER = "@@GENERATION_ID@@"
WEBHOOK_PATH = "/webhooks/supabase"

_ROW: dict[str, Any] = {
    "id": ID_PLACEHOLDER,
    "prompt": "a lighthouse at dusk, 35mm film",
    "status": "processing",
    "user_id": "6c1f4e2a-9b7d-4c3e-8a51-2f0d9e7b3a64",
    "model_id": "flux-pro",
    "created_at": "2025-05-14T09:21:07.512394+00:00",
    "session_id": "b2d94f17-3e6a-4c08-9f5b-71a0c8e2d3f9",
    "parameters": {"seed": 184467, "steps": 28},
}
_ERROR = "Replicate API error: 429 Too Many Requests"


def jsonb_text(value: Any) -> str:
    """`value` serialised the way PostgreSQL prints a jsonb value."""
    return json.dumps(_jsonb_ordered(value), ensure_ascii=False)


def _jsonb_ordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {key: _jsonb_ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_jsonb_ordered(item) for item in value]
    return value


def failure_body(
    *,
    model_id: str = _ROW["model_id"],
    error: str = _ERROR,
    error_type: str = "RateLimitError",
    user_id: str = _ROW["user_id"],
) -> str:
    """An UPDATE processing → failed, with the guide's `parameters.error`/`errorContext`
    (by default the 429 of flux-pro that the webhook suite sends)."""
    before = dict(_ROW, model_id=model_id, user_id=user_id)
    failed = dict(before, status="failed")
    failed["parameters"] = dict(
        _ROW["parameters"],
        error=error,
        errorContext={
            "type": error_type,
            "userId": user_id,
            "message": error,
            "timestamp": "2025-05-14T09:21:19.201Z",
        },
    )
    return _update(failed, before=before)


def completed_body() -> str:
    """An UPDATE processing → completed: what most webhook calls look like."""
    done = dict(_ROW, status="completed")
    done["parameters"] = dict(
        _ROW["parameters"],
        output="https://cdn.example.com/generations/2025/05/14/out-0.webp",
        durationMs=8532,
    )
    return _update(done)


def _update(record: dict[str, Any], *, before: dict[str, Any] = _ROW) -> str:
    return jsonb_text(
        {
            "type": "UPDATE",
            "table": "generations",
            "schema": "public",
            "record": record,
            "old_record": before,
        }
    )


def wire_size(body: str) -> int:
    """Bytes on the wire once a (36-character, UUID-shaped) id replaces the placeholder."""
    return len(body.replace(ID_PLACEHOLDER, "0" * 36).encode())


def wrk_script(body: str, *, secret: str, run_nonce: int, ports: Sequence[int] = ()) -> str:
    """A wrk script that POSTs `body` with a new generation id in every request and
    prints its results as one `WRK_RESULT {json}` line when done.

    With `ports`, wrk's threads are spread over those loopback ports in turn (thread 1
    → the first, thread 2 → the second, …): a connection-level round-robin, like an L4
    load balancer, inside one wrk process and so with one latency histogram."""
    if "]==]" in body:
        raise ValueError("body would end the Lua long string early")
    pieces = ", ".join(f"[==[{piece}]==]" for piece in body.split(ID_PLACEHOLDER))
    return _LUA.format(
        pieces=pieces,
        run=f"{run_nonce & 0xFFFFFFFF:08x}",
        path=WEBHOOK_PATH,
        secret=secret,
        ports=", ".join(f'"{int(port)}"' for port in ports),
    )


# Globals set by setup() (thread_no) are visible in each thread's own Lua state.
_LUA = """\
local pieces = {{ {pieces} }}
local run = "{run}"

wrk.method = "POST"
wrk.path = "{path}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "pg_net/0.14.0"
wrk.headers["x-supabase-webhook-source"] = "{secret}"

local ports = {{ {ports} }}
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
  if #ports > 0 then
    local port = ports[((next_thread - 1) % #ports) + 1]
    thread.addr = wrk.lookup("127.0.0.1", port)[1]
  end
end

local counter = 0
function request()
  counter = counter + 1
  local id = string.format("%s-%04x-4000-8000-%012x", run, thread_no, counter)
  local parts = {{}}
  for i, piece in ipairs(pieces) do
    if i > 1 then parts[#parts + 1] = id end
    parts[#parts + 1] = piece
  end
  return wrk.format(nil, nil, nil, table.concat(parts))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {{"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}, '
      .. '"latency_us": {{"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""
