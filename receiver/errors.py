"""The one exception tree of failwatch.

    FailwatchError
    ├── ConfigError          settings or YAML that cannot be used; names the key
    ├── PayloadError         a webhook body that is not what Supabase sends
    │   ├── NotJSONError     → 400
    │   ├── BodyTooLarge     → 413
    │   └── InvalidPayload   → 422, names the offending field
    ├── BadParameter         a query parameter of the API → 400, names it
    ├── AccessDenied         → 401 / 403 / 404, as documented for the admin API
    ├── StoreUnavailable     the state store cannot commit or answer → 503
    ├── SourceUnavailable    the source (Supabase) database cannot answer → 503
    ├── SourceTableError     the generations table is missing or lacks a column
    ├── TokenRejected        a user's access token proves nothing → 401
    ├── VerifierUnavailable  the signing keys cannot be fetched now → 503
    └── DeliveryError        a notifier could not deliver; says whether to retry

Third-party exceptions are translated where they enter (`raise X(...) from exc`),
so callers only ever catch these. The web layer turns the ones marked with a status
into answers in one place (`web.app`'s exception handlers).
"""

from __future__ import annotations


class FailwatchError(Exception):
    """Base of every error failwatch raises on purpose."""


class ConfigError(FailwatchError):
    """Configuration that cannot be used. The message names each bad key."""


class PayloadError(FailwatchError):
    """A webhook body that failwatch will not accept."""


class NotJSONError(PayloadError):
    """The body is not JSON at all."""


class BodyTooLarge(PayloadError):
    """The body is over the limit (by its Content-Length or as it streamed in)."""


class InvalidPayload(PayloadError):
    """JSON that is not a Supabase Database Webhook payload."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BadParameter(FailwatchError):
    """A query parameter that cannot be used; `name` is the parameter."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


class AccessDenied(FailwatchError):
    """A request without the credentials it needs. `status` is 401 (none given), 403
    (wrong) or 404 (the feature is off, so there is nothing to reveal)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StoreUnavailable(FailwatchError):
    """The state store could not be reached or could not commit."""


class SourceUnavailable(FailwatchError):
    """The source database cannot be reached or did not answer in time."""


class SourceTableError(FailwatchError):
    """The generations table is missing, unreadable, or lacks a column the sweeps need."""


class TokenRejected(FailwatchError):
    """The token does not prove who the caller is; the message says why, briefly."""


class VerifierUnavailable(FailwatchError):
    """The signing keys could not be fetched, so no verdict is possible right now."""


class DeliveryError(FailwatchError):
    """A notifier failed. `retryable` decides between back-off and the dead letter."""

    def __init__(
        self, message: str, *, retryable: bool, reason: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.reason = reason
        self.retry_after = retry_after
