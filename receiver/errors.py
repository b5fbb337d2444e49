"""The one exception tree of failwatch.

    FailwatchError
    ├── ConfigError          settings or YAML that cannot be used; names the key
    ├── PayloadError         a webhook body that is not what Supabase sends
    │   ├── NotJSONError     → 400
    │   └── InvalidPayload   → 422, names the offending field
    ├── StoreUnavailable     the state store cannot commit or answer → 503
    └── DeliveryError        a notifier could not deliver; says whether to retry

Third-party exceptions are translated where they enter (`raise X(...) from exc`),
so callers only ever catch these.
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


class InvalidPayload(PayloadError):
    """JSON that is not a Supabase Database Webhook payload."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class StoreUnavailable(FailwatchError):
    """The state store could not be reached or could not commit."""


class DeliveryError(FailwatchError):
    """A notifier failed. `retryable` decides between back-off and the dead letter."""

    def __init__(
        self, message: str, *, retryable: bool, reason: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.reason = reason
        self.retry_after = retry_after
