"""Who may use the console, and proof that a form came from it.

A session is a cookie `expires.nonce.level.signature`, signed with HMAC-SHA256 under a
key derived from the admin token (so rotating the token ends every session), HttpOnly,
`SameSite=Strict`, expiring after `SESSION_SECONDS`. `level` is `admin` once the admin
token was presented at `POST /login`, or `anon` for a visitor who only holds a form's
CSRF nonce. Every state-changing request carries a CSRF token: the HMAC of the session's
nonce, in the form field `csrf`, compared in constant time.

With no admin token configured the console is off (404), unless the server was started
with `--insecure-no-auth`: then a random per-process key signs sessions, and every
visitor is an admin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from receiver.config.settings import Settings

COOKIE = "failwatch_session"
SESSION_SECONDS = 12 * 3600
# A visitor's form nonce (before signing in) lives long enough to fill in a form.
ANON_SECONDS = 3600
Level = Literal["anon", "admin"]


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    level: Level
    expires: int

    @property
    def admin(self) -> bool:
        return self.level == "admin"


class Signer:
    """Signs and checks session cookies and CSRF tokens with one key."""

    def __init__(self, settings: Settings, *, insecure_no_auth: bool) -> None:
        token = settings.admin_token
        self.enabled = token is not None or insecure_no_auth
        # Without an admin token there is nobody to sign in: everyone is an admin.
        self.open = token is None and insecure_no_auth
        secret = token.get_secret_value().encode() if token is not None else secrets.token_bytes(32)
        self._key = hmac.new(secret, b"failwatch console session v1", hashlib.sha256).digest()
        self._token = token

    def _mac(self, purpose: str, text: str) -> str:
        digest = hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def new(self, level: Level, *, now: float) -> Session:
        seconds = SESSION_SECONDS if level == "admin" else ANON_SECONDS
        return Session(secrets.token_urlsafe(18), level, int(now) + seconds)

    def cookie_value(self, session: Session) -> str:
        body = f"{session.expires}.{session.nonce}.{session.level}"
        return f"{body}.{self._mac('session', body)}"

    def read(self, value: str | None, *, now: float) -> Session | None:
        """The session a cookie proves, or None when it is missing, forged or expired."""
        if not value or len(value) > 256:
            return None
        body, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._mac("session", body).encode()):
            return None
        expires, _, rest = body.partition(".")
        nonce, _, level = rest.partition(".")
        if not expires.isdigit() or int(expires) <= now or level not in ("anon", "admin"):
            return None
        return Session(nonce, "admin" if level == "admin" else "anon", int(expires))

    def csrf(self, session: Session) -> str:
        return self._mac("csrf", session.nonce)

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(presented.encode(), self.csrf(session).encode())

    def token_ok(self, presented: str) -> bool:
        """Is this the admin token? Constant time."""
        if self._token is None:
            return False
        return hmac.compare_digest(presented.encode(), self._token.get_secret_value().encode())


def set_cookie(
    response: Response, request: Request, signer: Signer, session: Session, *, now: float
) -> None:
    response.set_cookie(
        COOKIE,
        signer.cookie_value(session),
        max_age=max(0, session.expires - int(now)),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
