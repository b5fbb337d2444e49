"""The console: server-rendered pages over what failwatch stores (Jinja2 templates,
htmx and uPlot served from `static/`, readable with JavaScript off).

Paths are part of the contract: `/` → `/incidents`, `/incidents/{id}`, `/failures`,
`/silences`, `/delivery`, `/status`, `GET/POST /login`, `POST /logout`. Access rules are
in `session`; what every page shares is in `gate`.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from receiver.web.console import incidents, pages
from receiver.web.console.gate import SecurityHeaders, console


def console_routes() -> list[BaseRoute]:
    """The console's routes; the names start with `console` and stay out of OpenAPI."""
    return [
        Route(
            "/",
            lambda request: RedirectResponse("/incidents", status_code=307),
            methods=["GET"],
            name="consoleRoot",
        ),
        Route(
            "/login",
            console(pages.login_form, admin=False),
            methods=["GET"],
            name="consoleLoginForm",
        ),
        Route("/login", console(pages.login, admin=False), methods=["POST"], name="consoleLogin"),
        Route("/logout", console(pages.logout), methods=["POST"], name="consoleLogout"),
        Route(
            "/incidents", console(incidents.incident_list), methods=["GET"], name="consoleIncidents"
        ),
        Route(
            "/incidents/{id}",
            console(incidents.incident_show),
            methods=["GET"],
            name="consoleIncident",
        ),
        Route(
            "/incidents/{id}/{action}",
            console(incidents.incident_act),
            methods=["POST"],
            name="consoleIncidentAction",
        ),
        Route("/failures", console(pages.failures), methods=["GET"], name="consoleFailures"),
        Route("/silences", console(pages.silence_list), methods=["GET"], name="consoleSilences"),
        Route(
            "/silences",
            console(pages.silence_create),
            methods=["POST"],
            name="consoleSilenceCreate",
        ),
        Route(
            "/silences/preview",
            console(pages.silence_preview),
            methods=["POST"],
            name="consoleSilencePreview",
        ),
        Route(
            "/silences/{id}/expire",
            console(pages.silence_expire_form),
            methods=["GET"],
            name="consoleSilenceExpireForm",
        ),
        Route(
            "/silences/{id}/expire",
            console(pages.silence_expire),
            methods=["POST"],
            name="consoleSilenceExpire",
        ),
        Route("/delivery", console(pages.delivery), methods=["GET"], name="consoleDelivery"),
        Route(
            "/delivery/retry",
            console(pages.delivery_retry),
            methods=["POST"],
            name="consoleRetryAll",
        ),
        Route(
            "/delivery/{id}/retry",
            console(pages.delivery_retry),
            methods=["POST"],
            name="consoleRetry",
        ),
        Route("/status", console(pages.status), methods=["GET"], name="consoleStatus"),
        Mount(
            "/static",
            app=SecurityHeaders(StaticFiles(packages=[("receiver.web.console", "static")])),
            name="consoleStatic",
        ),
    ]
