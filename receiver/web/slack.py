"""`POST /slack/interactions`: the buttons on failwatch's Slack messages (the Slack app's
Interactivity Request URL).

A request is Slack's only if its signature checks out against one of
`FAILWATCH_SLACK_SIGNING_SECRET` (slack-sdk's `SignatureVerifier`, HMAC-SHA256 over
`v0:<timestamp>:<body>`, the timestamp within 5 minutes); anything else is a 401 that
says nothing more, and a body over 64 KiB a 413. A signed click is then screened: it must
be `block_actions`, from `FAILWATCH_SLACK_TEAM_ID` when set, by a user of
`FAILWATCH_SLACK_ALLOWED_USERS` when set, with one of failwatch's action ids. A click
that passes runs `loops.incidents.act` — one transaction with its `actions` row and the
message update in the outbox — and the answer is an empty 200, well inside Slack's 3 s.
A click that does not, or that changes nothing (already acknowledged, already resolved),
is explained to the clicker alone, in an ephemeral message sent to its `response_url`
after the answer.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from receiver.config.settings import Settings
from receiver.engine.incidents import Action, ActionSource, Actor, Outcome
from receiver.errors import BodyTooLarge
from receiver.loops.incidents import act
from receiver.notifiers.render.blocks import ACK, MUTE, OPEN, RESOLVE, UNMUTE
from receiver.web.api_models import error_response
from receiver.web.context import services_of
from receiver.web.webhook import read_body

log = logging.getLogger("failwatch.slack")

MAX_BODY = 64 * 1024
WINDOW = 300  # seconds either side of now that a signed timestamp may be
RESPONSE_TIMEOUT = 5
_ACTIONS = {ACK: Action.ACK, MUTE: Action.MUTE, RESOLVE: Action.RESOLVE, UNMUTE: Action.UNMUTE}
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
# Slack's response URLs; tests (and a Slack stand-in) use the Web API's origin instead.
SLACK_HOOKS = "https://hooks.slack.com/"


@dataclass(frozen=True, slots=True)
class Click:
    """One button press or menu choice, as much as failwatch reads of it."""

    team_id: str | None
    user_id: str
    user_name: str
    action_id: str
    incident_id: str
    argument: str | None
    action_ts: str
    response_url: str | None


class _Clock:
    """slack-sdk's clock, driven by the app's (so tests can move it)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def signed(
    secrets: Sequence[str], body: bytes, timestamp: str | None, signature: str | None, *, now: float
) -> bool:
    """Whether one of `secrets` signed this body at a time within WINDOW of `now`."""
    # SignatureVerifier would raise on a timestamp int() refuses (500) and accept some it
    # should not ("1_700", " 17"); compare_digest raises on non-ASCII signatures, and the
    # verifier on a body that is not UTF-8 (which no Slack request is).
    if timestamp is None or signature is None:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    if abs(now - int(timestamp)) > WINDOW:
        return False
    return any(
        SignatureVerifier(secret, clock=_Clock(now)).is_valid(body, timestamp, signature)  # type: ignore[arg-type]
        for secret in secrets
    )


def parse_click(body: bytes) -> Click | str:
    """The click a signed body reports, or why failwatch does not act on it."""
    try:
        form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=False)
        payload = json.loads(form.get("payload", [""])[0])
    except (UnicodeDecodeError, ValueError):
        return "not an interaction payload"
    if not isinstance(payload, dict):
        return "not an interaction payload"
    if payload.get("type") != "block_actions":
        return f"failwatch does not handle {_text(payload.get('type')) or 'this'} interactions"
    user, team = _object(payload.get("user")), _object(payload.get("team"))
    actions = payload.get("actions")
    first = _object(actions[0]) if isinstance(actions, list) and actions else {}
    user_id = _text(user.get("id"))
    action_id = _text(first.get("action_id"))
    if not user_id or not action_id:
        return "the click names no user or action"
    selected = _object(first.get("selected_option"))
    argument = _text(selected.get("value")) if action_id == MUTE else None
    # Buttons carry the incident in `value`; the mute menu's options carry durations, so
    # its block (the actions block) carries the incident in `block_id`.
    incident = _text(first.get("block_id")) if action_id == MUTE else _text(first.get("value"))
    return Click(
        team_id=_text(team.get("id")) or _text(user.get("team_id")),
        user_id=user_id,
        user_name=_text(user.get("name")) or _text(user.get("username")) or user_id,
        action_id=action_id,
        incident_id=incident or "",
        argument=argument,
        action_ts=_text(first.get("action_ts")) or "",
        response_url=_text(payload.get("response_url")),
    )


def refusal(click: Click, settings: Settings) -> str | None:
    """Why this click may not act, or None if it may."""
    if settings.slack_team_id and click.team_id != settings.slack_team_id:
        return "This Slack workspace may not act on failwatch incidents."
    if settings.slack_allowed_users and click.user_id not in settings.slack_allowed_users:
        return "You are not on failwatch's list of people who may act on incidents."
    if click.action_id not in _ACTIONS:
        return "failwatch does not know this action."
    if not click.action_ts:
        return "The click carries no action_ts."
    return None


async def slack_interactions(request: Request) -> Response:
    services = services_of(request)
    secrets = services.settings.slack_signing_secrets()
    if not secrets:
        return error_response(404, "Slack interactivity is not configured")
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        return error_response(413, f"body larger than {MAX_BODY} bytes")
    except ClientDisconnect:
        return error_response(400, "client disconnected")
    now = services.clock()
    headers = request.headers
    timestamp, signature = (
        headers.get("x-slack-request-timestamp"),
        headers.get("x-slack-signature"),
    )
    if not signed(secrets, body, timestamp, signature, now=now):
        log.warning("slack interaction refused: bad signature")
        return error_response(401, "invalid signature")
    click = parse_click(body)
    if isinstance(click, str):
        log.info("slack interaction ignored", extra={"why": click})
        return Response(status_code=200)
    if click.action_id == OPEN:  # a link: Slack opens it, and tells us it did
        return Response(status_code=200)
    why = refusal(click, services.settings)
    if why is not None:
        log.info("slack click refused", extra={"user": click.user_id, "why": why})
        return _tell(click, why, services.settings)
    result = await act(
        services.store,
        click.incident_id,
        _ACTIONS[click.action_id],
        Actor(click.user_id, click.user_name, ActionSource.SLACK, team=click.team_id),
        integrations=services.integrations,
        now=now,
        argument=click.argument,
        action_ts=click.action_ts,
    )
    log.info(
        "slack click",
        extra={
            "user": click.user_id,
            "action": click.action_id,
            "incident": click.incident_id,
            "outcome": result.outcome.value,
        },
    )
    if result.outcome is Outcome.DONE:
        services.new_notifications.set()
    if result.outcome in (Outcome.DONE, Outcome.DUPLICATE):
        return Response(status_code=200)
    return _tell(click, result.message, services.settings)


def _tell(click: Click, text: str, settings: Settings) -> Response:
    """An empty 200 now, then `text` to the clicker alone."""
    url = click.response_url
    if url is None or not _is_slack_url(url, settings):
        return Response(status_code=200)
    return Response(status_code=200, background=BackgroundTask(_ephemeral, url, text))


def _is_slack_url(url: str, settings: Settings) -> bool:
    """Only Slack's own response URLs are called (or the configured Web API's origin,
    for a stand-in): a signed payload is Slack's, but this keeps it that way."""
    api = urllib.parse.urlsplit(settings.slack_api_url)
    return url.startswith(SLACK_HOOKS) or url.startswith(f"{api.scheme}://{api.netloc}/")


async def _ephemeral(url: str, text: str) -> None:
    try:
        response = await AsyncWebhookClient(url, timeout=RESPONSE_TIMEOUT).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    except Exception as exc:  # a missed explanation must not disturb anything else
        log.warning("slack response_url failed", extra={"error_type": type(exc).__name__})
        return
    if response.status_code != 200:
        log.warning("slack response_url refused", extra={"status": response.status_code})


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A short string from the payload, or None (never trust its type or size)."""
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None
