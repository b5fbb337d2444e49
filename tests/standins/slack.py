"""A loopback Slack for tests: incoming webhooks and the Web API's chat methods.

It runs a real HTTP server (Starlette under uvicorn, 127.0.0.1, a free port) in a
background thread, so the real slack-sdk clients — in this process or in a `failwatch
serve` subprocess — talk to it over TCP, from sync or async tests alike.

    with SlackStandIn() as slack:
        notifier = SlackNotifier(bot_token=SecretStr(slack.token), channel="#alerts",
                                 api_url=slack.api_url)
        ...
        message = slack.messages[ts]          # its blocks, update history, thread replies
        slack.fail_next(status=429, retry_after=7)

With `rate_limit`, it limits messages like Slack does (about one per second per
channel, short bursts allowed): a post or an update beyond the channel's token bucket
is answered 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.

It speaks what failwatch uses: `POST /services/…` (incoming webhook; answers `ok` or an
error text), `chat.postMessage` (with `thread_ts` for replies) and `chat.update` (JSON or
form bodies, bearer token). It also plays a person clicking a message's buttons:
`interaction(message, action_id)` builds the `block_actions` payload Slack would send to
the app's Interactivity URL, signed with `signing_secret` the way Slack signs, and
`responses` records what failwatch then posts to the payload's `response_url`.

Like Slack it checks the token, the channel, the thread and the Block Kit limits (≤ 50
blocks, header ≤ 150, section text ≤ 3,000, ≤ 10 fields of ≤ 2,000, ≤ 25 elements in an
actions block), so a message it accepts is one Slack would accept.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

_MAX_BLOCKS = 50
_HEADER_CHARS = 150
_SECTION_CHARS = 3000
_MAX_FIELDS = 10
_FIELD_CHARS = 2000
_CONTEXT_ELEMENTS = 10
_TEXT_CHARS = 40000


@dataclass(frozen=True)
class Call:
    """One request the stand-in received, and what it answered."""

    method: str  # "webhook", "chat.postMessage", "chat.update", or the unknown path
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    status: int
    answer: Any
    # When it was answered (time.time(), comparable with failwatch's own clock).
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Revision:
    text: str
    blocks: list[dict[str, Any]]


@dataclass
class Message:
    """A message posted through the Web API: its current content, what it was before
    each `chat.update` (oldest first), and its thread replies."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    # Legacy attachments (failwatch sends one for the category's colour bar).
    attachments: list[dict[str, Any]] = field(default_factory=list)
    history: list[Revision] = field(default_factory=list)
    replies: list[Message] = field(default_factory=list)

    @property
    def header(self) -> str:
        """The text of the first header block, or ''."""
        for block in self.blocks:
            if block.get("type") == "header":
                return str(block["text"]["text"])
        return ""


@dataclass(frozen=True)
class _Failure:
    status: int
    error: str | None
    retry_after: float | None
    delay: float
    method: str | None


class SlackStandIn:
    """Slack on loopback. `channels` maps channel names to ids; with `strict_channels`
    a name outside it answers `channel_not_found`, otherwise any name gets an id."""

    def __init__(
        self,
        *,
        token: str | None = None,
        channels: Mapping[str, str] | None = None,
        strict_channels: bool = False,
        rate_limit: float | None = None,
        burst: int = 3,
    ) -> None:
        self.token = token or f"xoxb-standin-{secrets.token_hex(8)}"
        self._webhook_path = f"/services/T0STANDIN/B0STANDIN/{secrets.token_hex(12)}"
        self._channels = dict(channels or {})
        self._strict_channels = strict_channels
        self._rate = rate_limit
        self._burst = burst
        # channel → (tokens, when counted); the incoming webhook counts as one channel.
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._messages: dict[str, Message] = {}
        self._webhook_messages: list[dict[str, Any]] = []
        self._failures: list[_Failure] = []
        self._ts = itertools.count(1)
        self.signing_secret = secrets.token_hex(16)
        self.team_id = "T0STANDIN"
        self._responses: list[dict[str, Any]] = []
        self._response_path = f"/actions/{self.team_id}/{secrets.token_hex(8)}"
        self._clicks = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- life cycle ------------------------------------------------------------------

    def start(self, *, timeout: float = 15.0) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), log_config=None, access_log=False, lifespan="off", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="slack-standin"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Slack stand-in did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- where to send ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL (FAILWATCH_SLACK_API_URL)."""
        return f"{self.base_url}/api/"

    @property
    def webhook_url(self) -> str:
        """The incoming-webhook URL (FAILWATCH_SLACK_WEBHOOK_URL); its path is the secret."""
        return f"{self.base_url}{self._webhook_path}"

    def channel_id(self, name: str) -> str:
        """The id this stand-in gives a channel name (`#alerts` and `alerts` alike)."""
        name = name.lstrip("#")
        if name in self._channels:
            return self._channels[name]
        if name in self._channels.values():
            return name
        if self._strict_channels:
            raise KeyError(name)
        if _looks_like_id(name):
            return name
        return "C" + hashlib.sha256(name.encode()).hexdigest()[:9].upper()

    # -- what it received ------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def messages(self) -> dict[str, Message]:
        """Top-level messages by ts (replies are in their parent's `.replies`)."""
        with self._lock:
            return dict(self._messages)

    @property
    def webhook_messages(self) -> list[dict[str, Any]]:
        """Bodies posted to the incoming webhook and accepted, in order."""
        with self._lock:
            return list(self._webhook_messages)

    @property
    def responses(self) -> list[dict[str, Any]]:
        """What was posted to response URLs (ephemeral answers to clicks), in order."""
        with self._lock:
            return list(self._responses)

    # -- a person clicking -----------------------------------------------------------

    def interaction(
        self,
        message: Message,
        action_id: str,
        *,
        option: str | None = None,
        user_id: str = "U0ALICE",
        user_name: str = "alice",
        team_id: str | None = None,
        action_ts: str | None = None,
        payload_type: str = "block_actions",
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Slack sends when `user_id` clicks the element `action_id`
        of `message` (choosing `option` in a menu), signed with `secret` (default: the
        stand-in's `signing_secret`) at `timestamp` (default: now)."""
        block, element = _element(message.blocks, action_id)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block.get("block_id", ""),
            "type": element["type"],
            "action_ts": action_ts or f"{time.time():.6f}",
        }
        if element["type"] == "static_select":
            chosen = next(o for o in element["options"] if o["value"] == option)
            action["selected_option"] = chosen
        else:
            action["value"] = element.get("value", "")
        team = team_id or self.team_id
        payload = {
            "type": payload_type,
            "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team},
            "api_app_id": "A0STANDIN",
            "team": {"id": team, "domain": "standin"},
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
            },
            "channel": {"id": message.channel},
            "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
            "response_url": f"{self.base_url}{self._response_path}/{next(self._clicks)}",
            "trigger_id": f"{next(self._clicks)}.standin",
            "actions": [action],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return body, self.sign(body, timestamp=timestamp, secret=secret)

    def sign(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Slack's signature headers for `body`: v0=HMAC-SHA256(secret, v0:ts:body)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        key = (secret or self.signing_secret).encode()
        digest = hmac.new(key, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": f"v0={digest}",
        }

    def fail_next(
        self,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` requests (of `method`, if given: "webhook",
        "chat.postMessage", "chat.update") with a failure instead: HTTP `status`
        (429 sends `Retry-After: retry_after`), and for the Web API `{"ok": false,
        "error": error}`. `delay` seconds pass before the answer (to provoke timeouts)."""
        if status == 200 and error is None and delay == 0:
            raise ValueError("fail_next needs a status >= 400, an error or a delay")
        with self._lock:
            failure = _Failure(status, error, retry_after, delay, method)
            self._failures.extend([failure] * times)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self._webhook_messages.clear()
            self._failures.clear()
            self._responses.clear()

    def wait_for(self, condition: Callable[[SlackStandIn], bool], *, timeout: float = 30.0) -> None:
        """Poll until `condition(self)` holds (for messages sent by another process)."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise TimeoutError("the Slack stand-in did not see what was expected")
            time.sleep(0.02)

    # -- the HTTP side ---------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(self._webhook_path, self._webhook, methods=["POST"]),
                Route(self._response_path + "/{n}", self._response_url, methods=["POST"]),
                Route("/api/{method}", self._web_api, methods=["POST", "GET"]),
                Route("/{path:path}", self._unknown, methods=["POST", "GET"]),
            ]
        )

    async def _webhook(self, request: Request) -> Response:
        body = await _body(request)
        failure = self._take_failure("webhook")
        if failure is not None:
            await asyncio.sleep(failure.delay)
            if failure.status >= 400 or failure.error:
                status = failure.status if failure.status >= 400 else 400
                text = failure.error or _webhook_error_text(status)
                return self._answer_text("webhook", request, body, status, text, failure)
        problem = _message_problem(body)
        if problem is not None:
            return self._answer_text("webhook", request, body, 400, problem, None)
        limited = self._over_rate("webhook")
        if limited is not None:
            return self._answer_text("webhook", request, body, 429, "rate_limited", limited)
        with self._lock:
            self._webhook_messages.append(dict(body))
        return self._answer_text("webhook", request, body, 200, "ok", None)

    async def _web_api(self, request: Request) -> Response:
        method = request.path_params["method"]
        body = await _body(request)
        failure = self._take_failure(method)
        if failure is not None:
            await asyncio.sleep(failure.delay)
            if failure.status >= 400 or failure.error:
                return self._answer_api_failure(method, request, body, failure)
        token = _bearer(request) or str(body.get("token", ""))
        if not token:
            answer: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif not secrets.compare_digest(token, self.token):
            answer = {"ok": False, "error": "invalid_auth"}
        elif method in ("chat.postMessage", "chat.update") and (
            limited := self._over_rate(self._channel_key(body))
        ):
            return self._answer_api_failure(method, request, body, limited)
        elif method == "chat.postMessage":
            answer = self._post_message(body)
        elif method == "chat.update":
            answer = self._update(body)
        else:
            answer = {"ok": False, "error": "unknown_method"}
        return self._answer_json(method, request, body, 200, answer)

    async def _response_url(self, request: Request) -> Response:
        body = await _body(request)
        with self._lock:
            self._responses.append(dict(body))
        return self._answer_text("response_url", request, body, 200, "ok", None)

    async def _unknown(self, request: Request) -> Response:
        body = await _body(request)
        return self._answer_text(request.url.path, request, body, 404, "no_service", None)

    def _post_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        problem = _message_problem(body)
        if problem is not None:
            return {"ok": False, "error": problem}
        try:
            channel = self.channel_id(str(body.get("channel", "")))
        except KeyError:
            return {"ok": False, "error": "channel_not_found"}
        message = Message(
            channel=channel,
            ts=self._next_ts(),
            text=str(body.get("text", "")),
            blocks=list(body.get("blocks") or []),
            thread_ts=str(body["thread_ts"]) if body.get("thread_ts") else None,
            attachments=list(body.get("attachments") or []),
        )
        with self._lock:
            if message.thread_ts is None:
                self._messages[message.ts] = message
            else:
                parent = self._messages.get(message.thread_ts)
                if parent is None or parent.channel != channel:
                    return {"ok": False, "error": "thread_not_found"}
                parent.replies.append(message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": {"text": message.text, "ts": message.ts, "blocks": message.blocks},
        }

    def _update(self, body: Mapping[str, Any]) -> dict[str, Any]:
        problem = _message_problem(body)
        if problem is not None:
            return {"ok": False, "error": problem}
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        with self._lock:
            message = self._messages.get(ts)
            if message is None or message.channel != channel:
                return {"ok": False, "error": "message_not_found"}
            message.history.append(Revision(message.text, message.blocks))
            message.text = str(body.get("text", ""))
            message.blocks = list(body.get("blocks") or [])
            # Like Slack: attachments left out of an update stay; an empty list removes them.
            if "attachments" in body:
                message.attachments = list(body["attachments"] or [])
        return {"ok": True, "channel": channel, "ts": ts, "text": message.text}

    @property
    def rate_limited(self) -> int:
        """How many calls it answered 429 because of its own rate limit or fail_next."""
        return sum(1 for call in self.calls if call.status == 429)

    def _channel_key(self, body: Mapping[str, Any]) -> str:
        try:
            return self.channel_id(str(body.get("channel", "")))
        except KeyError:
            return str(body.get("channel", ""))

    def _over_rate(self, channel: str) -> _Failure | None:
        """Take a token of the channel's bucket; a 429 to answer if there is none."""
        if self._rate is None:
            return None
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(channel, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._buckets[channel] = (tokens - 1.0, now)
                return None
            self._buckets[channel] = (tokens, now)
        wait = max(1, math.ceil((1.0 - tokens) / self._rate))
        return _Failure(429, "ratelimited", float(wait), 0.0, None)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            for index, failure in enumerate(self._failures):
                if failure.method in (None, method):
                    return self._failures.pop(index)
        return None

    def _answer_api_failure(
        self, method: str, request: Request, body: Mapping[str, Any], failure: _Failure
    ) -> Response:
        if failure.status >= 500:
            # Slack's front end answers 5xx with an HTML page, not JSON.
            return self._answer_text(method, request, body, failure.status, "<html>", failure)
        error = failure.error or ("ratelimited" if failure.status == 429 else "invalid_request")
        answer = {"ok": False, "error": error}
        status = failure.status if failure.status >= 400 else 200
        return self._answer_json(method, request, body, status, answer, failure)

    def _answer_json(
        self,
        method: str,
        request: Request,
        body: Mapping[str, Any],
        status: int,
        answer: dict[str, Any],
        failure: _Failure | None = None,
    ) -> Response:
        self._record(method, request, body, status, answer)
        return JSONResponse(answer, status_code=status, headers=_retry_after(failure))

    def _answer_text(
        self,
        method: str,
        request: Request,
        body: Mapping[str, Any],
        status: int,
        text: str,
        failure: _Failure | None,
    ) -> Response:
        self._record(method, request, body, status, text)
        media_type = "text/html" if text.startswith("<") else "text/plain"
        return PlainTextResponse(
            text, status_code=status, headers=_retry_after(failure), media_type=media_type
        )

    def _record(
        self, method: str, request: Request, body: Mapping[str, Any], status: int, answer: Any
    ) -> None:
        call = Call(method, dict(request.headers), dict(body), status, answer)
        with self._lock:
            self._calls.append(call)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        data = json.loads(raw or b"{}")
        return data if isinstance(data, dict) else {}
    form = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
    body: dict[str, Any] = {key: values[-1] for key, values in form.items()}
    for key in ("blocks", "attachments"):
        if isinstance(body.get(key), str):
            body[key] = json.loads(body[key])
    return body


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _retry_after(failure: _Failure | None) -> dict[str, str]:
    if failure is None or failure.retry_after is None:
        return {}
    return {"Retry-After": f"{failure.retry_after:g}"}


def _webhook_error_text(status: int) -> str:
    return {
        403: "invalid_token",
        404: "no_service",
        410: "channel_is_archived",
        429: "rate_limited",
    }.get(status, "internal_error" if status >= 500 else "invalid_payload")


def _looks_like_id(name: str) -> bool:
    return len(name) >= 9 and name[0] in "CGD" and name.isalnum() and name.isupper()


def _message_problem(body: Mapping[str, Any]) -> str | None:
    """Slack's answer to a message it would refuse, or None."""
    text, blocks = body.get("text"), body.get("blocks")
    if not text and not blocks:
        return "no_text"
    if isinstance(text, str) and len(text) > _TEXT_CHARS:
        return "msg_too_long"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > _MAX_BLOCKS:
        return "invalid_blocks"
    return None if all(_block_ok(block) for block in blocks) else "invalid_blocks"


def _block_ok(block: Any) -> bool:
    if not isinstance(block, dict):
        return False
    kind = block.get("type")
    if kind == "header":
        text = block.get("text", {})
        return text.get("type") == "plain_text" and 0 < len(text.get("text", "")) <= _HEADER_CHARS
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            return False
        if text is not None and not 0 < len(text.get("text", "")) <= _SECTION_CHARS:
            return False
        return fields is None or (
            len(fields) <= _MAX_FIELDS
            and all(0 < len(item.get("text", "")) <= _FIELD_CHARS for item in fields)
        )
    if kind == "context":
        elements = block.get("elements") or []
        return 0 < len(elements) <= _CONTEXT_ELEMENTS
    if kind == "actions":
        elements = block.get("elements") or []
        ids = [e.get("action_id") for e in elements]
        return (
            0 < len(elements) <= 25
            and len(set(ids)) == len(ids)
            and len(block.get("block_id", "")) <= 255
            and all(len(e.get("value", "")) <= 2000 for e in elements)
        )
    return kind in ("divider", "image", "rich_text")


def _element(blocks: list[dict[str, Any]], action_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The actions block holding the element `action_id`, and the element."""
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return block, element
    raise LookupError(f"the message has no element {action_id}")
