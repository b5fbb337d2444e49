"""A real SMTP server on loopback for tests (aiosmtpd, in a background thread).

    with SmtpStandIn(tls="starttls", username="alerts", password="pw") as smtp:
        notifier = EmailNotifier(host=smtp.host, port=smtp.port, tls="starttls",
                                 tls_context=smtp.client_tls_context(), ...)
        ...
        mail = smtp.messages[0]               # envelope, raw bytes, parsed EmailMessage
        smtp.fail_next(code=451, stage="DATA")

`tls` is "none", "starttls" (required before MAIL) or "tls" (implicit TLS from the first
byte); either TLS mode uses a certificate for 127.0.0.1/localhost issued by a throwaway
trustme CA, which `client_tls_context()` trusts. With a username and password, AUTH
(PLAIN, LOGIN) is offered and MAIL is refused until the client has authenticated.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["MAIL", "RCPT", "DATA"]

# aiosmtpd warns about its own deprecated attribute on every AUTH, and logs each client
# line at debug level (AUTH lines included): keep its log to real errors.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message: EmailMessage
    tls: bool
    authenticated_as: str | None


@dataclass(frozen=True)
class _Failure:
    stage: Stage
    reply: str
    delay: float


class SmtpStandIn:
    def __init__(
        self,
        *,
        tls: Literal["none", "starttls", "tls"] = "none",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.tls = tls
        self._credentials = (username, password) if username is not None else None
        self._ca = trustme.CA() if tls != "none" else None
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._failures: list[_Failure] = []
        self._controller: _BoundController | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        server_context = self._server_tls_context()
        smtp_options: dict[str, Any] = {"server_hostname": "standin.test"}
        if self.tls == "starttls":
            smtp_options.update(tls_context=server_context, require_starttls=True)
        if self._credentials is not None:
            smtp_options.update(
                authenticator=self._authenticate, auth_require_tls=self.tls == "starttls"
            )
        self._controller = _BoundController(
            _Handler(self),
            sock,
            ssl_context=server_context if self.tls == "tls" else None,
            **smtp_options,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (and nothing else)."""
        if self._ca is None:
            raise RuntimeError("this SMTP stand-in does not speak TLS")
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def fail_next(
        self,
        *,
        code: int = 451,
        text: str | None = None,
        stage: Stage = "DATA",
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Answer the next `times` commands of `stage` with `code text` (after `delay`
        seconds; a long delay provokes a client timeout)."""
        reply = f"{code} {text or _default_text(code)}"
        with self._lock:
            self._failures.extend([_Failure(stage, reply, delay)] * times)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()

    def wait_for(self, condition: Callable[[SmtpStandIn], bool], *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise TimeoutError("the SMTP stand-in did not see what was expected")
            time.sleep(0.02)

    # -- server side -----------------------------------------------------------------

    def _server_tls_context(self) -> ssl.SSLContext | None:
        if self._ca is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self._credentials is not None
        user, password = self._credentials
        ok = (
            isinstance(auth_data, LoginPassword)
            and secrets.compare_digest(auth_data.login, (user or "").encode())
            and secrets.compare_digest(auth_data.password, (password or "").encode())
        )
        # handled=False: let aiosmtpd answer a failure with its 535.
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    async def _failure(self, stage: Stage) -> str | None:
        with self._lock:
            for index, failure in enumerate(self._failures):
                if failure.stage == stage:
                    self._failures.pop(index)
                    break
            else:
                return None
        await asyncio.sleep(failure.delay)
        return failure.reply

    def _record(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        data = envelope.original_content or b""
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            message=message,
            # STARTTLS sets session.ssl; implicit TLS shows in the transport only.
            tls=session.ssl is not None or _transport_is_tls(server),
            authenticated_as=str(session.auth_data) if session.authenticated else None,
        )
        with self._lock:
            self._messages.append(mail)


class _Handler:
    def __init__(self, standin: SmtpStandIn) -> None:
        self._standin = standin

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._standin._credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = await self._standin._failure("MAIL")
        if failure:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        failure = await self._standin._failure("RCPT")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        failure = await self._standin._failure("DATA")
        if failure:
            return failure
        self._standin._record(server, session, envelope)
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """aiosmtpd's threaded controller on a socket bound beforehand (to port 0)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def _trigger_server(self) -> None:
        # aiosmtpd's own trigger drops the connection mid-TLS, which leaves the server's
        # transport unclosed (a ResourceWarning later); say QUIT and close cleanly.
        with socket.create_connection((self.hostname, self.port), timeout=5) as raw:
            if self.ssl_context is None:
                _quit(raw)
                return
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            with context.wrap_socket(raw) as tls:
                _quit(tls)
                tls.unwrap()


def _quit(sock: socket.socket) -> None:
    sock.recv(1024)
    sock.sendall(b"QUIT\r\n")
    sock.recv(1024)


def _transport_is_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _default_text(code: int) -> str:
    return {
        421: "4.3.2 Service not available, closing channel",
        450: "4.2.1 Mailbox busy, try again later",
        451: "4.3.0 Local error in processing, try again later",
        452: "4.3.1 Insufficient system storage",
        550: "5.1.1 Mailbox unavailable",
        552: "5.3.4 Message size exceeds fixed limit",
        554: "5.7.1 Transaction failed: policy",
    }.get(code, "4.0.0 Temporary failure" if code < 500 else "5.0.0 Permanent failure")
