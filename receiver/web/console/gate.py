"""What every console page shares: the on/off switch, the session check, CSRF on every
state-changing request, the security headers, form parsing and template rendering."""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from receiver import __version__
from receiver.timefmt import iso
from receiver.web.console.session import COOKIE, Session, Signer, set_cookie
from receiver.web.context import Services, services_of

MAX_FORM = 64 * 1024
# No inline script or style anywhere: htmx, uPlot and the console's own script are files
# of this server, and the chart's data travels in a data- attribute.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("receiver.web.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["iso"] = lambda t: "" if t is None else iso(float(t))
_templates.globals["version"] = __version__


class BadInput(Exception):
    """A query parameter or form field the console cannot take: a 400 that names it."""


@dataclass(frozen=True, slots=True)
class Page:
    """One console request, once the gate let it through."""

    request: Request
    services: Services
    signer: Signer
    session: Session
    form: Mapping[str, str]
    form_lists: Mapping[str, list[str]]

    @property
    def now(self) -> float:
        return self.services.clock()

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = _templates.get_template(template).render(
            csrf=self.signer.csrf(self.session),
            signed_in=self.session.admin and not self.signer.open,
            path=self.request.url.path,
            fragment=self.request.headers.get("hx-request") == "true",
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def query(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.request.query_params.get(name) or default
        if value not in allowed:
            raise BadInput(f"{name}: one of {', '.join(allowed)}")
        return value


Handler = Callable[[Page], Awaitable[Response]]


def console(handler: Handler, *, admin: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a page handler in the console's rules (see `session`)."""

    async def endpoint(request: Request) -> Response:
        signer: Signer = request.app.state.console_signer
        if not signer.enabled:
            return PlainTextResponse(
                "the console is disabled; set FAILWATCH_ADMIN_TOKEN to enable it", status_code=404
            )
        services = services_of(request)
        now = services.clock()
        session = signer.read(request.cookies.get(COOKIE), now=now)
        fresh = session is None
        if session is None:
            session = signer.new("admin" if signer.open else "anon", now=now)
        if admin and not session.admin:
            response: Response = RedirectResponse(_login_url(request), status_code=303)
        else:
            try:
                form, lists = await _form(request)
                if request.method == "POST" and not signer.csrf_ok(session, form.get("csrf")):
                    response = PlainTextResponse(
                        "missing or stale CSRF token: reload the page and try again", 403
                    )
                else:
                    response = await handler(Page(request, services, signer, session, form, lists))
            except BadInput as exc:
                response = PlainTextResponse(str(exc), status_code=400)
        if fresh and COOKIE not in response.headers.get("set-cookie", ""):
            set_cookie(response, request, signer, session, now=now)
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("cache-control", "no-store")
        return response

    return endpoint


def _login_url(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return "/login?" + urllib.parse.urlencode({"next": target})


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site, never another origin."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/incidents"
    return value


async def _form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    if request.method != "POST":
        return {}, {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise BadInput("form too large")
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("form is not valid UTF-8 application/x-www-form-urlencoded") from None
    lists: dict[str, list[str]] = {}
    for key, value in pairs:
        lists.setdefault(key, []).append(value)
    return {key: values[-1] for key, values in lists.items()}, lists


class SecurityHeaders:
    """The console's headers on the static files too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
