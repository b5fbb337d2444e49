"""E-mail over SMTP (aiosmtplib): one multipart message per flush, one thread per incident.

Each message has a text and an HTML part and a Message-ID derived from the notification
id (so a retried delivery is recognisably the same message). The thread is derived from
the incident id, not stored: the incident's first message has the Message-ID
`<failwatch.incident.{id}@domain>`, and every later one (updates, new errors, repeats,
the resolution) points at it in In-Reply-To and References — so it holds when the first
message was lost or its record pruned, and after a restart, with no state to keep. The
subject stays the same for the whole incident (`render.subject`), which Gmail needs on
top of the references; Outlook threads by Thread-Topic and Thread-Index, whose 22-byte
root is also derived from the incident (a 5-byte child block per later message, as
Outlook appends them). Every header value passes through
`header_value`, which removes CR, LF and every other control or invisible formatting
character, so a model id or category cannot inject a header. `valid_address` checks an
address when configuration is loaded.

SMTP replies map to `DeliveryError`: 4xx (and connection errors and timeouts) are
retryable, 5xx permanent, a refused login (535) permanent with reason `authError`. The
password never appears in an error message or a log line.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import logging
import re
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Literal, NoReturn

import aiosmtplib
from pydantic import SecretStr

from receiver.config.addresses import addr_spec, valid_address
from receiver.config.integrations import email_destination
from receiver.config.receivers import TemplatesConfig
from receiver.engine.incidents import incident_id
from receiver.errors import ConfigError, DeliveryError
from receiver.model import Notification, Reason
from receiver.notifiers import render
from receiver.notifiers.render import RenderOptions, facts

TlsMode = Literal["none", "starttls", "tls"]
DEFAULT_TIMEOUT = 30.0
# RFC 5322's limit for a header line; subjects are far shorter anyway.
_HEADER_CHARS = 998
_REPLY_CHARS = 200
# 530 authentication required, 534 mechanism too weak, 535 credentials invalid,
# 538 encryption required for the mechanism, 454 temporary authentication failure.
_AUTH_CODES = frozenset({454, 530, 534, 535, 538})

_ID_PART = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Thread-Index: FILETIME counts 100 ns ticks since 1601-01-01, 11,644,473,600 s before 1970.
_FILETIME_EPOCH = 11_644_473_600
_TICKS = 10_000_000

log = logging.getLogger(__name__)


def header_value(value: str, limit: int = _HEADER_CHARS) -> str:
    """A value that is safe in a header: one line, no control characters."""
    return facts.one_line(value, limit)


class EmailNotifier:
    """Sends each notification to `recipients` through one SMTP server.

    `tls`: "none" (plain, port 25 style), "starttls" (upgrade, required) or "tls"
    (implicit TLS, port 465 style). `username` + `password` enable AUTH. `tls_context`
    replaces the system trust store (a private CA; tests). `timeout` bounds every step.
    `templates` are the receiver's own title, summary line and subject.
    """

    integration = "email"
    updates_in_place = False

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        recipients: Sequence[str],
        port: int = 587,
        tls: TlsMode = "starttls",
        username: str | None = None,
        password: SecretStr | None = None,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
        dashboard_url: str | None = None,
        admin_api_url: str | None = None,
        templates: TemplatesConfig | None = None,
    ) -> None:
        if not recipients:
            raise ConfigError("email: at least one recipient is needed")
        try:
            self._sender = valid_address(sender)
            self._recipients = tuple(valid_address(r) for r in recipients)
        except ValueError as exc:
            raise ConfigError(f"email: {exc}") from None
        if password is not None and username is None:
            raise ConfigError("email: a password needs a username")
        self._host, self._port, self._tls = host, port, tls
        self._username, self._password = username, password
        self._tls_context, self._timeout = tls_context, timeout
        self._local_hostname = local_hostname
        self._options = RenderOptions(
            dashboard_url=dashboard_url,
            admin_api_url=admin_api_url,
            templates=templates or TemplatesConfig(),
        )
        self._domain = addr_spec(self._sender).rpartition("@")[2].lower()
        self.destination = email_destination(host, port)

    def __repr__(self) -> str:
        return f"EmailNotifier(destination={self.destination!r}, tls={self._tls!r})"

    def message(self, notification: Notification) -> EmailMessage:
        """The e-mail for `notification` (pure: the same notification, the same bytes)."""
        n = notification
        msg = EmailMessage()
        subject_line = render.subject(n, self._options)
        subject = header_value(subject_line)
        msg["Subject"] = subject
        msg["From"] = self._sender
        msg["To"] = ", ".join(self._recipients)
        msg["Date"] = email.utils.format_datetime(datetime.fromtimestamp(n.created_at, UTC))
        msg["Message-ID"] = self.message_id(n)
        root = self.thread_root(n)
        if root is not None:
            msg["In-Reply-To"] = root
            msg["References"] = root
        if not n.digest:
            msg["Thread-Topic"] = subject
            msg["Thread-Index"] = thread_index(n)
        # RFC 3834: an automatic message; asks auto-responders not to answer it.
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Failwatch-Reason"] = n.reason.value
        # Quoted-printable keeps mostly-ASCII bodies readable on the wire.
        msg.set_content(render.text_body(n, self._options), cte="quoted-printable")
        msg.add_alternative(
            render.html_body(n, self._options, subject_line=subject_line),
            subtype="html",
            cte="quoted-printable",
        )
        # A fixed boundary keeps the bytes reproducible (and snapshot-testable).
        msg.set_boundary(f"failwatch-{_digest(n.id)[:24]}")
        return msg

    def message_id(self, notification: Notification) -> str:
        """The incident's root id for its first message, `<failwatch.{notification
        id}@{sender's domain}>` for any other: stable across retries."""
        if notification.reason is Reason.FIRST:
            return self._incident_message_id(notification)
        return f"<failwatch.{_id_part(notification.id)}@{self._domain}>"

    def thread_root(self, notification: Notification) -> str | None:
        """The Message-ID of the incident's first message, when this is a later one (a
        digest belongs to no incident)."""
        if notification.reason is Reason.FIRST or notification.digest:
            return None
        return self._incident_message_id(notification)

    def _incident_message_id(self, notification: Notification) -> str:
        ident = incident_id(notification.group_key, notification.episode)
        return f"<failwatch.incident.{_id_part(ident)}@{self._domain}>"

    async def send(self, notification: Notification) -> Mapping[str, str] | None:
        msg = self.message(notification)
        try:
            refused, _ = await aiosmtplib.send(
                msg,
                sender=addr_spec(self._sender),
                recipients=[addr_spec(r) for r in self._recipients],
                hostname=self._host,
                port=self._port,
                use_tls=self._tls == "tls",
                start_tls=self._tls == "starttls",
                tls_context=self._tls_context,
                username=self._username,
                password=self._password.get_secret_value() if self._password else None,
                timeout=self._timeout,
                local_hostname=self._local_hostname,
            )
        except Exception as exc:
            self._raise_delivery_error(exc)
        if refused:
            # Others got it: retrying would send them a duplicate.
            log.warning(
                "some e-mail recipients were refused",
                extra={
                    "destination": self.destination,
                    "refused": {r: f"{reply.code}" for r, reply in refused.items()},
                },
            )
        return None  # the thread is derived from the incident: nothing to keep

    async def close(self) -> None:
        # One connection per message: alerts are rare, idle SMTP connections get dropped.
        return None

    def _raise_delivery_error(self, exc: Exception) -> NoReturn:
        where = f"SMTP {self._host}:{self._port}"
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = sorted({refusal.code for refusal in exc.recipients})
            what = f"{where}: every recipient refused ({', '.join(map(str, codes))})"
            retryable = any(400 <= code < 500 for code in codes)
            reason = "serverError" if retryable else "clientError"
            raise DeliveryError(what, retryable=retryable, reason=reason) from None
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            what = f"{where}: {exc.code} {self._scrub(exc.message)}"
            transient = 400 <= exc.code < 500
            if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or exc.code in _AUTH_CODES:
                raise DeliveryError(what, retryable=transient, reason="authError") from None
            reason = "serverError" if transient else "clientError"
            raise DeliveryError(what, retryable=transient, reason=reason) from None
        if isinstance(exc, TimeoutError):
            raise DeliveryError(f"{where}: timed out", retryable=True, reason="network") from None
        if _certificate_problem(exc):
            what = f"{where}: TLS certificate not trusted"
            raise DeliveryError(what, retryable=False, reason="tlsError") from None
        if isinstance(exc, ConnectionError | OSError):
            what = f"{where}: {self._scrub(str(exc))}"
            raise DeliveryError(what, retryable=True, reason="network") from None
        if isinstance(exc, aiosmtplib.SMTPException):
            # STARTTLS or AUTH not offered, no usable AUTH method: configuration.
            what = f"{where}: {self._scrub(str(exc))}"
            raise DeliveryError(what, retryable=False, reason="clientError") from None
        kind = type(exc).__name__
        raise DeliveryError(
            f"{where}: unexpected {kind}", retryable=True, reason="unexpected"
        ) from exc

    def _scrub(self, text: str) -> str:
        """Server text for an error message: one short line, never the password."""
        secret = self._password.get_secret_value() if self._password is not None else ""
        if secret:
            text = text.replace(secret, "***")
        return facts.one_line(text, _REPLY_CHARS)


def _certificate_problem(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def thread_index(notification: Notification) -> str:
    """Outlook's Thread-Index: a 22-byte root — a reserved byte, the incident's start
    as FILETIME (its 5 high bytes) and 16 bytes of a digest of the incident id — then,
    for a later message, one 5-byte block (a code bit, 31 bits of the time since the
    root, a nibble left 0 where Outlook puts random bits, the sequence number's low
    nibble). Base64, as Outlook writes it."""
    n = notification
    ident = incident_id(n.group_key, n.episode)
    start = _filetime(n.first_seen)
    root = b"\x01" + start.to_bytes(8, "big")[:5] + hashlib.sha256(ident.encode()).digest()[:16]
    if n.reason is Reason.FIRST:
        return base64.b64encode(root).decode()
    elapsed = max(0, _filetime(n.created_at) - (start >> 24 << 24))
    # Outlook's two scales: 1.6 ms units up to about 1.7 years, 51.2 ms units beyond.
    code, units = (0, elapsed >> 18) if elapsed < 1 << 49 else (1, elapsed >> 23)
    block = code << 39 | (units & 0x7FFFFFFF) << 8 | (n.sequence & 0xF)
    return base64.b64encode(root + block.to_bytes(5, "big")).decode()


def _filetime(epoch: float) -> int:
    return int((epoch + _FILETIME_EPOCH) * _TICKS)


def _id_part(raw: str) -> str:
    """`raw` where it is safe in a Message-ID, else a digest of it (stable, distinct)."""
    return raw if _ID_PART.fullmatch(raw) else _digest(raw)[:32]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
