"""E-mail addresses from Supabase's Auth admin API, for when `auth.users` is not readable.

`GET <project>/auth/v1/admin/users/{id}` with the service-role key answers 200 with the
user, 404 `user_not_found`, or 401/403 (`not_admin`) when the key is not a service-role
key. An address that cannot be found is `None`, never an error: the admin view is still
worth showing without it. Found addresses and confirmed unknown users are cached for a
while; a rejected key or an unreachable API stops the remaining lookups of the request
(every other call would fail alike) and is logged, never with the key. Only canonical
UUIDs are looked up, so a user id from the database can never steer the request path.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from pydantic import SecretStr

log = logging.getLogger("failwatch.supabase_auth")


class _KeyRejected(Exception):
    """The service-role key was refused; every further call would be too."""


class _LookupFailed(Exception):
    """This lookup failed for a passing reason (network, 5xx, unexpected answer)."""


class SupabaseAuthAdmin:
    def __init__(
        self,
        *,
        project_url: str,
        service_role_key: SecretStr,
        http: httpx.AsyncClient,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users_url = project_url.rstrip("/") + "/auth/v1/admin/users/"
        self._key = service_role_key
        self._http = http
        self._ttl = ttl
        self._max_entries = max_entries
        self._concurrency = concurrency
        self._clock = clock
        self._cache: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    async def emails(self, user_ids: Iterable[str | None]) -> dict[str, str | None]:
        """The e-mail of each user id (None where unknown), from cache or the API."""
        ids = list(dict.fromkeys(u for u in user_ids if u is not None))
        answer: dict[str, str | None] = {}
        spellings: dict[str, list[str]] = {}  # canonical UUID → the ids that name it
        for user_id in ids:
            canonical = _canonical_uuid(user_id)
            cached = self._cached(canonical) if canonical else None
            if canonical is None:
                answer[user_id] = None
            elif cached is not None:
                answer[user_id] = cached[0]
            else:
                spellings.setdefault(canonical, []).append(user_id)
        wanted = list(spellings)
        for start in range(0, len(wanted), self._concurrency):
            batch = wanted[start : start + self._concurrency]
            results = await asyncio.gather(
                *(self._lookup(canonical) for canonical in batch), return_exceptions=True
            )
            failed = False
            for canonical, result in zip(batch, results, strict=True):
                if isinstance(result, _KeyRejected | _LookupFailed):
                    failed = True
                elif isinstance(result, BaseException):
                    raise result
                else:
                    answer.update(dict.fromkeys(spellings[canonical], result))
            if failed:
                # A refused key or an unreachable API fails every further call alike;
                # better no e-mails now than a response that waits on hundreds of them.
                break
        return {user_id: answer.get(user_id) for user_id in ids}

    async def _lookup(self, canonical: str) -> str | None:
        key = self._key.get_secret_value()
        try:
            response = await self._http.get(
                self._users_url + canonical,
                headers={"apikey": key, "authorization": f"Bearer {key}"},
            )
        except httpx.HTTPError as exc:
            log.warning("Supabase Auth admin API unreachable", extra={"error": type(exc).__name__})
            raise _LookupFailed from None
        body = _json_object(response)
        if response.status_code == 200:
            email = _email_of(body)
            self._remember(canonical, email)
            return email
        error_code = body.get("error_code")
        if response.status_code == 404 and error_code == "user_not_found":
            self._remember(canonical, None)
            return None
        if response.status_code in (401, 403):
            log.warning(
                "Supabase Auth admin API refused the service-role key; e-mails are omitted",
                extra={"status": response.status_code, "error_code": error_code},
            )
            raise _KeyRejected
        log.warning(
            "Supabase Auth admin API answered unexpectedly",
            extra={"status": response.status_code, "error_code": error_code},
        )
        raise _LookupFailed

    def _cached(self, canonical: str) -> tuple[str | None] | None:
        entry = self._cache.get(canonical)
        if entry is None:
            return None
        email, expires = entry
        if self._clock() >= expires:
            del self._cache[canonical]
            return None
        return (email,)

    def _remember(self, canonical: str, email: str | None) -> None:
        self._cache[canonical] = (email, self._clock() + self._ttl)
        self._cache.move_to_end(canonical)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)


def _canonical_uuid(value: str) -> str | None:
    if len(value) > 64:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _email_of(body: dict[str, Any]) -> str | None:
    # The endpoint answers with the user object; some proxies wrap it as {"user": …}.
    user = body.get("user") if isinstance(body.get("user"), dict) else body
    email = user.get("email") if isinstance(user, dict) else None
    return email if isinstance(email, str) and email else None
