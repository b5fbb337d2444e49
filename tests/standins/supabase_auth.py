"""A loopback stand-in for the parts of Supabase Auth that failwatch calls.

`GET /auth/v1/admin/users/{id}` answers as GoTrue does behind the API gateway: 401 for
a missing or unknown key, 403 `not_admin` for a key that is valid but not the service
role, 404 `user_not_found`, 200 with the user object. `GET
/auth/v1/.well-known/jwks.json` serves whatever `jwks` currently holds (tests rotate
keys by replacing it). Every request is recorded, headers included.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USERS_PREFIX = "/auth/v1/admin/users/"
JWKS_PATH = "/auth/v1/.well-known/jwks.json"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]


@dataclass
class SupabaseAuthStandIn:
    service_role_key: str
    anon_key: str = "anon-key-not-admin"
    users: dict[str, str | None] = field(default_factory=dict)
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append(Recorded(path, headers))
        if path == JWKS_PATH:
            return 200, self.jwks
        if not path.startswith(USERS_PREFIX):
            return 404, {"message": "no Route matched with those values"}
        apikey = headers.get("apikey")
        if apikey not in (self.service_role_key, self.anon_key):
            return 401, {"message": "Invalid API key", "hint": "Double check your Supabase key."}
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if bearer != self.service_role_key:
            return 403, {"code": 403, "error_code": "not_admin", "msg": "User not allowed"}
        user_id = path.removeprefix(USERS_PREFIX)
        if user_id not in self.users:
            return 404, {"code": 404, "error_code": "user_not_found", "msg": "User not found"}
        email = self.users[user_id]
        return 200, {
            "id": user_id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": email or "",
            "phone": "",
            "app_metadata": {"provider": "email"},
            "user_metadata": {},
        }

    def requests_to(self, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]


@contextmanager
def serving(stand_in: SupabaseAuthStandIn) -> Iterator[SupabaseAuthStandIn]:
    """Serve on 127.0.0.1 at a free port until the block ends; `stand_in.url` is set."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, body = stand_in.answer(self.path, headers)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests read `stand_in.requests`; stderr stays quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="supabase-auth-standin"
    )
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
