"""The console's pages other than incidents: sign in and out, failure patterns,
silences, delivery and status. Each reads through the same functions as the admin API
and the CLI (`loops.silences`, `loops.failure_patterns`, `store.outbox`)."""

from __future__ import annotations

import json
from collections import defaultdict
from enum import StrEnum

from pydantic import SecretStr, ValidationError
from starlette.responses import RedirectResponse, Response

from receiver import __version__
from receiver.engine.matchers import Matcher
from receiver.engine.routing import Route as RoutingRoute
from receiver.engine.silences import SilenceRequest
from receiver.loops import failure_patterns, silences
from receiver.metrics import SWEEP_RESULTS, WEBHOOK_OUTCOMES
from receiver.rows import OutboxRow
from receiver.store import outbox, reports
from receiver.store.tx import Tx
from receiver.web.console.gate import Page, safe_next
from receiver.web.console.session import clear_cookie, set_cookie

SILENCE_DURATIONS = {"1h": 3600.0, "2h": 7200.0, "4h": 14400.0, "24h": 86400.0, "7d": 604800.0}
# Expired silences shown, newest first; older ones stay in the store and the API.
EXPIRED_SHOWN = 50
RECENT_NOTIFICATIONS = 200


async def login_form(page: Page) -> Response:
    target = safe_next(page.request.query_params.get("next"))
    if page.session.admin:
        return RedirectResponse(target, status_code=303)
    return page.render("login.html", next=target, error=None)


async def login(page: Page) -> Response:
    target = safe_next(page.form.get("next"))
    if not page.signer.token_ok(page.form.get("token", "")):
        return page.render("login.html", status=401, next=target, error="wrong admin token")
    response = RedirectResponse(target, status_code=303)
    # A new nonce: a cookie set before signing in (by anyone) is worth nothing after.
    set_cookie(
        response, page.request, page.signer, page.signer.new("admin", now=page.now), now=page.now
    )
    return response


async def logout(page: Page) -> Response:
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(response)
    return response


async def failures(page: Page) -> Response:
    window = failure_patterns.Window(page.query("window", _values(failure_patterns.Window), "24h"))
    default_step = "5m" if window is failure_patterns.Window.DAY else "1h"
    step = failure_patterns.Step(page.query("step", _values(failure_patterns.Step), default_step))
    by = failure_patterns.StackBy(page.query("by", _values(failure_patterns.StackBy), "category"))
    found = await failure_patterns.failure_patterns(
        page.services.store, window=window, step=step, by=by, now=page.now
    )
    chart = {
        "x": [int(t) for t in found.buckets],
        "series": [{"label": key, "values": list(values)} for key, values in found.series],
    }
    return page.render(
        "failures.html",
        p=found,
        chart=json.dumps(chart, separators=(",", ":")),
        totals=[(key, sum(values)) for key, values in found.series],
    )


def _values(choices: type[StrEnum]) -> tuple[str, ...]:
    return tuple(choice.value for choice in choices)


async def silence_list(page: Page) -> Response:
    prefill = "\n".join(page.request.query_params.getlist("matcher"))
    return await _silences_page(page, matchers=prefill)


async def _silences_page(
    page: Page,
    *,
    matchers: str = "",
    error: str | None = None,
    preview: silences.Preview | None = None,
    status: int = 200,
) -> Response:
    now = page.now
    listed = await silences.listing(page.services.store, include_expired=True, now=now)
    by_state: dict[str, list[object]] = defaultdict(list)
    for silence in sorted(listed, key=lambda s: -s.created_at):
        by_state[silence.state(now)].append(silence)
    return page.render(
        "silences.html",
        status=status,
        active=by_state["active"],
        pending=by_state["pending"],
        expired=by_state["expired"][:EXPIRED_SHOWN],
        durations=list(SILENCE_DURATIONS),
        form={
            "matchers": page.form.get("matchers", matchers),
            "duration": page.form.get("duration", "2h"),
            "comment": page.form.get("comment", ""),
            "author": page.form.get("author", "console"),
        },
        error=error,
        preview=preview,
    )


def _matchers(text: str) -> tuple[Matcher, ...]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("matchers: at least one, like model_id=flux-pro")
    if len(lines) > 20:
        raise ValueError("matchers: at most 20")
    return tuple(Matcher.parse(line) for line in lines)


async def silence_preview(page: Page) -> Response:
    """The editor's preview: a fragment for htmx (always 200, which htmx swaps in), or
    the whole page for a browser without JavaScript."""
    fragment = page.request.headers.get("hx-request") == "true"
    text = page.form.get("matchers", "")
    if fragment and not text.strip():
        return page.render("_preview.html", preview=None, error=None)
    try:
        matchers = _matchers(text)
    except ValueError as exc:
        if fragment:
            return page.render("_preview.html", preview=None, error=str(exc))
        return await _silences_page(page, error=str(exc), status=422)
    found = await silences.preview(page.services.store, matchers, now=page.now)
    if fragment:
        return page.render("_preview.html", preview=found, error=None)
    return await _silences_page(page, preview=found)


async def silence_create(page: Page) -> Response:
    duration = page.form.get("duration", "")
    try:
        if duration not in SILENCE_DURATIONS:
            raise ValueError(f"duration: one of {', '.join(SILENCE_DURATIONS)}")
        request = SilenceRequest(
            matchers=_matchers(page.form.get("matchers", "")),
            ends_at=page.now + SILENCE_DURATIONS[duration],
            comment=page.form.get("comment", "").strip(),
            author=page.form.get("author", "").strip(),
        )
        created = await silences.create(page.services.store, request, now=page.now)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(p) for p in error["loc"]) or "form"
        return await _silences_page(page, error=f"{field}: {error['msg']}", status=422)
    except ValueError as exc:
        return await _silences_page(page, error=str(exc), status=422)
    return RedirectResponse(f"/silences#silence-{created.id}", status_code=303)


async def silence_expire_form(page: Page) -> Response:
    silence_id = page.request.path_params["id"]
    listed = await silences.listing(page.services.store, include_expired=False, now=page.now)
    found = next((s for s in listed if s.id == silence_id), None)
    if found is None:
        return page.render("gone.html", status=404, what="no running silence with that id")
    return page.render("silence_expire.html", silence=found)


async def silence_expire(page: Page) -> Response:
    done = await silences.expire(page.services.store, page.request.path_params["id"], now=page.now)
    if not done:
        return page.render("gone.html", status=404, what="no running silence with that id")
    return RedirectResponse("/silences", status_code=303)


async def delivery(page: Page) -> Response:
    def read(tx: Tx) -> tuple[int, list[OutboxRow], list[OutboxRow]]:
        return (
            outbox.pending_count(tx),
            outbox.list_rows(tx, status="dead", limit=100),
            outbox.list_rows(tx, status=None, limit=RECENT_NOTIFICATIONS),
        )

    pending, dead, recent = await page.services.store.read(read)
    per_receiver: dict[str, list[OutboxRow]] = defaultdict(list)
    for row in recent:
        per_receiver[row.receiver].append(row)
    return page.render(
        "delivery.html", pending=pending, dead=dead, per_receiver=sorted(per_receiver.items())
    )


async def delivery_retry(page: Page) -> Response:
    raw = page.request.path_params.get("id")
    if raw is not None and not (raw.isdigit() and int(raw) < 2**63):
        return page.render("gone.html", status=404, what="no dead notification with that id")
    ids = None if raw is None else [int(raw)]
    count = await page.services.store.write(lambda tx: outbox.requeue_dead(tx, ids, now=page.now))
    if ids is not None and count == 0:
        return page.render("gone.html", status=404, what="no dead notification with that id")
    return RedirectResponse("/delivery", status_code=303)


async def status(page: Page) -> Response:
    settings = page.services.settings
    registry = page.services.metrics.registry
    webhook = {
        o: int(registry.get_sample_value("failwatch_webhook_events_total", {"outcome": o}) or 0)
        for o in WEBHOOK_OUTCOMES
    }
    sweeps = {
        r: int(registry.get_sample_value("failwatch_sweep_runs_total", {"result": r}) or 0)
        for r in SWEEP_RESULTS
    }
    state = await page.services.store.read(reports.sweep_state)
    return page.render(
        "status.html",
        version=__version__,
        config=_config_summary(page),
        routes=_route_rows(settings.routes()),
        webhook=webhook,
        sweeps=sweeps,
        sweep_state=state,
        sweeping=settings.database_url is not None,
    )


def _config_summary(page: Page) -> list[tuple[str, str]]:
    """Every top-level setting; a secret shows only whether it is set."""
    settings = page.services.settings
    rows = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name in ("receivers", "route", "classifier", "delivery"):
            continue
        if isinstance(value, SecretStr):
            shown = "set (hidden)"
        elif value is None:
            shown = "not set"
        elif isinstance(value, list | tuple):
            shown = ", ".join(str(v) for v in value) or "(empty)"
        else:
            shown = str(value)
        rows.append((name, shown))
    return rows


def _route_rows(root: RoutingRoute, depth: int = 0) -> list[tuple[int, RoutingRoute]]:
    rows = [(depth, root)]
    for child in root.children:
        rows.extend(_route_rows(child, depth + 1))
    return rows
