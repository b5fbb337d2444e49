"""The incidents pages: the list with status counts, filters and 24 h sparklines, and one
incident's timeline, errors, users and actions. Reads and actions are those of
`loops.incidents`, which Slack, the admin API and the CLI use too."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from starlette.responses import RedirectResponse, Response

from receiver.engine.incidents import MUTE_FOR, Action, ActionSource, Actor, Outcome, state_of
from receiver.loops import failure_patterns, incidents
from receiver.notifiers.registry import specs_by_receiver
from receiver.store.incidents import STATES, IncidentFilter
from receiver.web.console.gate import BadInput, Page

RANGES = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
PER_PAGE = 50
MAX_TEXT = 200
# Whoever holds the admin token; the console has no user accounts.
CONSOLE_ACTOR = Actor(id="console", name="console", source=ActionSource.API)
SPARK_WIDTH, SPARK_HEIGHT = 96, 20


@dataclass(frozen=True, slots=True)
class Filters:
    state: str
    category: str
    model: str
    range: str
    q: str
    page: int

    def query(self, **changes: object) -> str:
        """This list's query string, with some values changed (for links)."""
        values: dict[str, object] = {
            "state": self.state,
            "category": self.category,
            "model": self.model,
            "range": self.range,
            "q": self.q,
            "page": self.page if self.page > 1 else "",
        }
        values.update(changes)
        return urllib.parse.urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _filters(page: Page) -> Filters:
    params = page.request.query_params
    number = params.get("page") or "1"
    if not number.isdigit() or not 1 <= int(number) <= 1000:
        raise BadInput("page: a number from 1 to 1000")
    texts = {name: params.get(name, "").strip() for name in ("category", "model", "q")}
    for name, value in texts.items():
        if len(value) > MAX_TEXT:
            raise BadInput(f"{name}: at most {MAX_TEXT} characters")
    return Filters(
        state=page.query("state", ("", *STATES), ""),
        category=texts["category"],
        model=texts["model"],
        range=page.query("range", ("", *RANGES), ""),
        q=texts["q"],
        page=int(number),
    )


async def incident_list(page: Page) -> Response:
    f = _filters(page)
    now = page.now
    query = IncidentFilter(
        state=f.state or None,
        category=f.category or None,
        model_id=f.model or None,
        since=now - RANGES[f.range] if f.range else None,
        text=f.q or None,
        limit=PER_PAGE + 1,
        offset=(f.page - 1) * PER_PAGE,
    )
    store = page.services.store
    found = await incidents.list_incidents(store, query, now=now)
    counts = await incidents.incident_counts(store, now=now)
    lines = await failure_patterns.sparklines(store, now=now)
    rows = [
        {
            "incident": incident,
            "state": state_of(incident, now).value,
            "spark": sparkline(
                lines.get(
                    (incident.labels.get("category", ""), incident.labels.get("model_id", ""))
                )
            ),
        }
        for incident in found[:PER_PAGE]
    ]
    return page.render(
        "incidents.html",
        rows=rows,
        f=f,
        counts=counts,
        states=STATES,
        ranges=list(RANGES),
        more=len(found) > PER_PAGE,
    )


async def incident_show(page: Page, *, status: int = 200, said: str | None = None) -> Response:
    incident_id = page.request.path_params["id"]
    store = page.services.store
    timeline = await incidents.show_incident(store, incident_id)
    if timeline is None:
        return page.render("gone.html", status=404, what="no incident with that id")
    incident = timeline.incident
    details = await incidents.incident_details(store, incident)
    events: list[tuple[float, str, str]] = [(incident.opened_at, "opened", "the incident opened")]
    events.append((incident.first_seen, "first seen", "its first failure"))
    for n in timeline.notifications:
        result = n.status + (f" after {n.attempts} attempts" if n.attempts > 1 else "")
        error = f": {n.last_error}" if n.last_error else ""
        events.append(
            (
                n.created_at,
                f"notified ({n.notification.reason.value})",
                f"{n.receiver}/{n.integration}: {result}{error}",
            )
        )
    for a in timeline.actions:
        argument = f" {a.argument}" if a.argument else ""
        events.append((a.created_at, f"{a.action}{argument}", f"by {a.actor_name} ({a.source})"))
    if incident.resolved_at is not None:
        who = f"by {incident.resolved_by}" if incident.resolved_by else "quiet long enough"
        events.append((incident.resolved_at, "resolved", who))
    events.sort(key=lambda e: e[0])
    silence_link = "/silences?" + urllib.parse.urlencode(
        [("matcher", f"{name}={value}") for name, value in sorted(incident.labels.items())]
    )
    return page.render(
        "incident.html",
        status=status,
        incident=incident,
        state=state_of(incident, page.now).value,
        events=events,
        details=details,
        mute_for=list(MUTE_FOR),
        silence_link=silence_link,
        dashboard_url=page.services.settings.dashboard_url,
        said=said,
    )


async def incident_act(page: Page) -> Response:
    incident_id = page.request.path_params["id"]
    try:
        action = Action(page.request.path_params["action"])
    except ValueError:
        return page.render("gone.html", status=404, what="no such action")
    argument = page.form.get("for") if action is Action.MUTE else None
    result = await incidents.act(
        page.services.store,
        incident_id,
        action,
        CONSOLE_ACTOR,
        integrations=specs_by_receiver(page.services.settings),
        now=page.now,
        argument=argument,
    )
    if result.outcome is Outcome.UNKNOWN:
        return page.render("gone.html", status=404, what="no incident with that id")
    if result.outcome is Outcome.REFUSED:
        return await incident_show(page, status=409, said=result.message)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


def sparkline(values: tuple[int, ...] | None) -> str:
    """SVG polyline points for hourly counts, scaled to the tallest hour."""
    if not values:
        return ""
    top = max(values) or 1
    step = SPARK_WIDTH / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 1 - (v / top) * (SPARK_HEIGHT - 2):.1f}"
        for i, v in enumerate(values)
    )
