"""HTTP connections that cannot hold the process hostage.

uvicorn's httptools protocol reads headers without a size limit, keeps a connection that
never sends a byte open forever, gives a client all the time it likes to send its headers
and body, and accepts connections until the process runs out of file descriptors. This
protocol is uvicorn's own with five bounds added, each a setting (`http:` in YAML,
`FAILWATCH_HTTP__<KEY>`):

- `max_header_bytes`: the request line and headers of one request; beyond it the answer
  is 431 and the connection is closed (a read may overshoot by one network read).
- `idle_timeout`: a connection with no request in progress — before its first request or
  between two — is closed after this long (uvicorn's keep-alive timeout, now also
  before the first request).
- `header_timeout`: from the first byte of a request until its headers are complete;
  then 408 and the connection is closed.
- `body_timeout`: from the end of the headers until the whole body has arrived; then
  the connection is closed (the handler sees the client disconnect; nothing is stored).
- `max_connections`: connections open at once; one more is closed as soon as it is
  accepted, so a flood of idle sockets cannot take the descriptors `/healthz` needs. It
  is lowered to what the process's descriptor limit leaves room for.

Each connection closed by a bound is counted by reason (`on_close`, one of
`receiver.metrics.CONNECTION_CLOSE_REASONS`).
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from receiver.config.settings import HttpSettings

# Descriptors kept back from the connection cap: the state store, the source database
# pool, SMTP and Slack connections, log files and the listening socket.
RESERVED_DESCRIPTORS = 64


def descriptor_room(configured: int) -> int:
    """The connection cap the descriptor limit leaves room for (at least 1)."""
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft_limit - RESERVED_DESCRIPTORS))


def _answer(status: bytes, message: bytes) -> bytes:
    body = b'{"error":"' + message + b'"}'
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


_HEADERS_TOO_LARGE = _answer(b"431 Request Header Fields Too Large", b"request headers too large")
_HEADERS_TOO_SLOW = _answer(b"408 Request Timeout", b"request headers not received in time")


def guarded_protocol(
    limits: HttpSettings, on_close: Callable[[str], None]
) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with `limits`, for `uvicorn.Config(http=...)`."""

    class Guarded(_GuardedHttpTools):
        guard = _Guard(limits, descriptor_room(limits.max_connections), on_close)

    return Guarded


@dataclass(frozen=True, slots=True)
class _Guard:
    limits: HttpSettings
    max_connections: int
    on_close: Callable[[str], None]


class _GuardedHttpTools(HttpToolsProtocol):
    guard: ClassVar[_Guard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeout_keep_alive = self.guard.limits.idle_timeout  # type: ignore[assignment]
        self._awaiting_headers = True
        self._header_bytes = 0
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.guard.max_connections:
            self._drop("too_many_connections")
            return
        # uvicorn arms its keep-alive timer only after a response; a connection that
        # never sends its first request must time out too.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.guard.limits.idle_timeout, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._awaiting_headers:
            if self._header_bytes == 0:
                self._set_deadline(self.guard.limits.header_timeout, self._headers_too_slow)
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            self._awaiting_headers
            and self._header_bytes > self.guard.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self.transport.write(_HEADERS_TOO_LARGE)
            self._drop("header_too_large")

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._set_deadline(self.guard.limits.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        self._awaiting_headers = True
        self._header_bytes = 0
        super().on_message_complete()

    def timeout_keep_alive_handler(self) -> None:
        if not self.transport.is_closing():
            self._drop("idle_timeout")

    def _headers_too_slow(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_HEADERS_TOO_SLOW)
        self._drop("header_timeout")

    def _body_too_slow(self) -> None:
        self._drop("body_timeout")

    def _set_deadline(self, seconds: float, expired: Callable[[], None]) -> None:
        self._cancel_deadline()
        self._read_deadline = self.loop.call_later(seconds, expired)

    def _cancel_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _drop(self, reason: str) -> None:
        self._cancel_deadline()
        self.guard.on_close(reason)
        self.transport.close()
