"""The guide's API: the admin view of failed and stuck generations, failure stats, and
each user's own failures — read from the source database.

Every handler checks, in this order: who is asking (401/403; for the admin endpoints the
`/api/admin` mount does it), whether the feature is configured at all (404 saying which
variable enables it), the query parameters (400 naming the bad one), then asks the
database (`SourceUnavailable` if it is down or the query fails: the app answers 503).
The handlers only assemble answers; the SQL lives in `receiver.supabase.queries`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.errors import (
    AccessDenied,
    BadParameter,
    SourceUnavailable,
    TokenRejected,
    VerifierUnavailable,
)
from receiver.supabase import queries
from receiver.supabase.clients import SupabaseClients
from receiver.supabase.pool import SourceDB
from receiver.supabase.queries import AdminQuery, Conn, Row
from receiver.supabase.stats import category_breakdown
from receiver.web import params
from receiver.web.api_models import (
    AdminGeneration,
    CategoryStats,
    ErrorResponse,
    FailedGenerations,
    FailureStats,
    ModelStats,
    OwnFailure,
    OwnFailures,
    Summary,
    UserFailures,
    UserRef,
    error_response,
)
from receiver.web.auth import bearer_token
from receiver.web.context import services_of, supabase_of

log = logging.getLogger("failwatch.api")

T = TypeVar("T")


def user_routes(*, cors_origins: Sequence[str] = ()) -> list[Route]:
    """The user endpoint; the only one that answers browsers from `cors_origins` (the
    admin endpoints are for operators and scripts, and the webhook for Supabase)."""
    user_route_options: dict[str, Any] = {"methods": ["GET"]}
    if cors_origins:
        cors = Middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET"],
            allow_headers=["authorization"],
            max_age=600,
        )
        # OPTIONS must reach the middleware, which answers the preflight itself.
        user_route_options = {"methods": ["GET", "OPTIONS"], "middleware": [cors]}
    return [
        Route(
            "/api/generations/failed",
            own_failed_generations,
            name="ownFailedGenerations",
            **user_route_options,
        )
    ]


def admin_query_routes() -> list[Route]:
    """The guide's admin queries, under the `/api/admin` mount (which checks the token)."""
    return [
        Route(
            "/failed-generations",
            admin_failed_generations,
            methods=["GET"],
            name="adminFailedGenerations",
        ),
        Route("/failure-stats", admin_failure_stats, methods=["GET"], name="adminFailureStats"),
    ]


async def admin_failed_generations(request: Request) -> Response:
    api, source = _admin_source(request)
    try:
        given = request.query_params
        query = AdminQuery(
            status=params.STATUS.read(given),
            hours_ago=params.HOURS_AGO.read(given),
            user_id=params.USER_ID.read(given),
            limit=params.ADMIN_LIMIT.read(given),
            stuck_after_seconds=services_of(request).settings.stuck_after,
        )
    except BadParameter as exc:
        return bad_parameter(exc)

    async def ask(conn: Conn) -> tuple[bool, queries.AdminAnswer]:
        readable = await api.auth_users_readable(conn)
        answer = await queries.failed_and_stuck(
            conn, query, tables=api.tables, with_emails=readable
        )
        return readable, answer

    readable, answer = await _ask(source, ask)
    emails: Mapping[str, str | None] | None = None
    emails_from = "auth.users" if readable else None
    if not readable and api.auth_admin is not None:
        # Outside the database connection: these calls may take a while.
        ids = [row["id"] for row in answer.by_user]
        ids += [row["user_id"] for row in answer.generations]
        emails = await api.auth_admin.emails(ids)
        emails_from = "auth_api"
    body = FailedGenerations(
        status=query.status.value,
        hours_ago=query.hours_ago,
        user_id=query.user_id,
        limit=query.limit,
        stuck_after_minutes=services_of(request).settings.stuck_after / 60,
        emails_from=emails_from,
        total=answer.counts["total"],
        summary=Summary(
            failed=answer.counts["failed"],
            stuck=answer.counts["stuck"],
            affected_users=answer.counts["affected_users"],
        ),
        by_user=[
            UserFailures(
                id=row["id"],
                email=_email(row, row["id"], emails),
                display_name=row["display_name"],
                username=row["username"],
                total=row["total"],
                failed=row["failed"],
                stuck=row["stuck"],
            )
            for row in answer.by_user
        ],
        generations=[_admin_generation(row, emails) for row in answer.generations],
    )
    return JSONResponse(body.body())


async def admin_failure_stats(request: Request) -> Response:
    api, source = _admin_source(request)
    try:
        hours_back = params.HOURS_BACK.read(request.query_params)
    except BadParameter as exc:
        return bad_parameter(exc)

    async def ask(conn: Conn) -> queries.StatsAnswer:
        return await queries.failure_stats(conn, hours_back=hours_back, tables=api.tables)

    answer = await _ask(source, ask)
    breakdown = category_breakdown(
        answer.error_groups, services_of(request).settings.classifier.classifier
    )
    models = [
        ModelStats(
            model_id=row["model_id"],
            failure_count=row["failure_count"],
            affected_users=row["affected_users"],
            latest_failure=row["latest_failure"],
            categories=dict(breakdown.by_model.get(row["model_id"], Counter()).most_common()),
        )
        for row in answer.models
    ]
    categories = [
        CategoryStats(
            category=category,
            failure_count=tally.failures,
            affected_users=len(tally.users),
            latest_failure=tally.latest,
        )
        for category, tally in sorted(
            breakdown.by_category.items(), key=lambda item: (-item[1].failures, item[0])
        )
        if tally.latest is not None
    ]
    body = FailureStats(
        hours_back=hours_back,
        total=sum(row["failure_count"] for row in answer.models),
        models=models,
        categories=categories,
    )
    return JSONResponse(body.body())


async def own_failed_generations(request: Request) -> Response:
    if request.method == "OPTIONS":  # not a CORS preflight (the middleware answers those)
        return Response(status_code=204, headers={"allow": "GET, HEAD, OPTIONS"})
    api = supabase_of(request)
    if not api.verifier.enabled:
        return error_response(
            404,
            "the user endpoint is disabled; set FAILWATCH_SUPABASE_JWT_SECRET "
            "or FAILWATCH_SUPABASE_URL to enable it",
        )
    presented = bearer_token(request.headers)
    if presented is None:
        return _unauthorized("missing bearer token", invalid=False)
    try:
        user_id = await api.verifier.user_id(presented.decode("ascii"))
    except (TokenRejected, UnicodeDecodeError) as exc:
        reason = str(exc) if isinstance(exc, TokenRejected) else "malformed token"
        return _unauthorized(reason, invalid=True)
    except VerifierUnavailable:
        return error_response(503, "cannot verify tokens right now; try again shortly")
    source = api.source
    if source is None:
        raise _source_not_configured()
    given = request.query_params
    try:
        hours_ago = params.HOURS_AGO.read(given)
        session_id = params.SESSION_ID.read(given)
        limit = params.USER_LIMIT.read(given)
    except BadParameter as exc:
        return bad_parameter(exc)

    async def ask(conn: Conn) -> Sequence[Row]:
        return await queries.own_failures(
            conn,
            user_id=user_id,
            hours_ago=hours_ago,
            session_id=session_id,
            limit=limit,
            tables=api.tables,
        )

    rows = await _ask(source, ask)
    body = OwnFailures(
        hours_ago=hours_ago,
        session_id=session_id,
        limit=limit,
        total=rows[0]["total"] if rows else 0,
        generations=[
            OwnFailure.model_validate({key: row[key] for key in OwnFailure.model_fields})
            for row in rows
        ],
    )
    return JSONResponse(body.body())


async def _ask(source: SourceDB, work: Callable[[Conn], Awaitable[T]]) -> T:
    """Run `work` on a pooled connection; any database trouble becomes SourceUnavailable."""
    try:
        async with source.connection() as conn:
            return await work(conn)
    except psycopg.Error as exc:
        # Not a connection problem (those arrive as SourceUnavailable): a schema that
        # differs from the guide's, a missing privilege. The operator needs the class.
        log.error(
            "source database query failed",
            extra={"error": type(exc).__name__, "sqlstate": exc.sqlstate},
        )
        raise SourceUnavailable("source database query failed") from exc


def _admin_generation(row: Row, emails: Mapping[str, str | None] | None) -> AdminGeneration:
    age = row["age_minutes"]
    return AdminGeneration(
        id=row["id"],
        user=UserRef(
            id=row["user_id"],
            email=_email(row, row["user_id"], emails),
            display_name=row["display_name"],
            username=row["username"],
        ),
        model_id=row["model_id"],
        status=row["status"],
        kind=row["kind"],
        created_at=row["created_at"],
        age_minutes=round(age, 2) if age is not None else None,
        error_message=row["error_message"],
        error_type=row["error_type"],
        session_id=row["session_id"],
        session_name=row["session_name"],
        project_name=row["project_name"],
    )


def _email(row: Row, user_id: str | None, emails: Mapping[str, str | None] | None) -> str | None:
    if emails is None:
        email: str | None = row["email"]
        return email
    return emails.get(user_id) if user_id is not None else None


def bad_parameter(exc: BadParameter) -> Response:
    body = ErrorResponse(error=str(exc), parameter=exc.name)
    return JSONResponse(body.body(), status_code=400)


def _unauthorized(reason: str, *, invalid: bool) -> Response:
    challenge = 'Bearer error="invalid_token"' if invalid else "Bearer"
    return error_response(401, reason, **{"www-authenticate": challenge})


def _admin_source(request: Request) -> tuple[SupabaseClients, SourceDB]:
    """What every admin query needs: the source database (the mount checked the token)."""
    api = supabase_of(request)
    if api.source is None:
        raise _source_not_configured()
    return api, api.source


def _source_not_configured() -> AccessDenied:
    return AccessDenied(
        404,
        "no source database is configured; set FAILWATCH_DATABASE_URL to the Supabase "
        "Postgres URL to enable this endpoint",
    )
