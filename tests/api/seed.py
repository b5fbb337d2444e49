"""Seeded source data for the API tests: the guide's schema with several users, sessions,
projects and models, and failed, stuck, processing, completed rows at various ages.

Ages keep clear of every boundary the tests ask about (whole hours for the windows,
10 minutes for "stuck") by many minutes, so a row never crosses one while a test module
runs; every row has its own `created_at`, so orders have no ties.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

SCHEMA_SQL = Path(__file__).parent.parent / "sql" / "guide_schema.sql"
_NAMESPACE = uuid.UUID("6f1c2a34-9d7e-4b0a-8c55-1e2f3a4b5c6d")


def user_uuid(n: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"user-{n}"))


USERS = [user_uuid(n) for n in range(6)]
LEGACY_USER = "legacy-user-7"  # a text id that is not a UUID
PROFILES = {
    USERS[0]: ("Ada Lovelace", "ada"),
    USERS[1]: ("Grace Hopper", "grace"),
    USERS[2]: ("Alan Turing", None),
    USERS[3]: ("Siobhán O'Brien", "siobhan"),
    USERS[4]: (None, "barbara"),
    LEGACY_USER: ("Legacy Account", "legacy"),
}
EMAILS = {
    USERS[0]: "ada@example.com",
    USERS[1]: "grace@example.org",
    USERS[2]: "alan@example.net",
    USERS[3]: "siobhan@example.com",
}
PROJECTS = {"proj-a": "Poster campaign", "proj-b": "Product shots"}
SESSIONS = {  # id: (name, project, owner)
    "sess-0": ("Spring posters", "proj-a", USERS[0]),
    "sess-1": ("Autumn posters", "proj-a", USERS[0]),
    "sess-2": ("Catalogue", "proj-b", USERS[1]),
    "sess-3": ("Hero images", "proj-b", USERS[2]),
    "sess-4": ("Scratch", None, USERS[3]),
    "sess-5": (None, "proj-a", USERS[4]),
    "sess-6": ("Legacy", None, LEGACY_USER),
}
MODELS = ["flux-pro", "sdxl", "dall-e-3", "midjourney-v6", None]

FAILED_AGES = [3, 17, 45] + [60 * h + 30 for h in (1, 2, 5, 11, 20, 23, 24, 30, 47, 48, 100)]
FAILED_AGES += [60 * h + 30 for h in (167, 168, 300, 719, 720, 900)]
PROCESSING_AGES = [2, 4, 14, 17, 25, 70, 60 * 5 + 30, 60 * 23 + 30, 60 * 30 + 30, 60 * 800 + 30]
OTHER_STATUSES = ["completed", "queued", "cancelled"]


def _context(message: str | None, error_type: str, at: str, user: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {"type": error_type, "timestamp": at, "userId": user}
    if message is not None:
        context["message"] = message
    return context


def error_parameters(variant: int, at: str, user: str | None) -> dict[str, Any]:
    """The shapes `parameters` takes in the wild (the guide's, and its untidy cousins)."""
    if variant == 0:
        text = "Rate limit exceeded for this model"
        return {"error": text, "errorContext": _context(text, "ModelGenerationError", at, user)}
    if variant == 1:
        text = "Upstream returned HTTP 429 Too Many Requests"
        return {"error": text, "errorContext": _context(text, "UnknownError", at, user)}
    if variant == 2:
        return {"errorContext": _context("slow down", "RateLimitError", at, user)}
    if variant == 3:
        text = "Request timed out after 30 seconds"
        return {"error": text, "errorContext": _context(text, "TimeoutError", at, user)}
    if variant == 4:
        text = "Prompt rejected by content policy"
        return {"error": text, "errorContext": _context(text, "ContentPolicyError", at, user)}
    if variant == 5:
        text = "CUDA out of memory"
        return {"error": text, "errorContext": _context(text, "ModelGenerationError", at, user)}
    if variant == 6:
        return {"error": "Something odd happened"}
    if variant == 7:
        return {}
    if variant == 8:
        return {"error": 504, "seed": 7}
    if variant == 9:
        return {"error": "it's a 'quoted' \"thing\"; DROP TABLE generations; --"}
    return {"error": "context is not an object", "errorContext": "oops"}


ERROR_VARIANTS = 11


@dataclass(frozen=True)
class SeedRow:
    id: str
    user_id: str | None
    session_id: str | None
    model_id: str | None
    status: str
    age_seconds: float
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Seeded:
    dsn: str
    rows: tuple[SeedRow, ...]

    def sessions_of(self, user_id: str | None) -> list[str]:
        return [sid for sid, (_, _, owner) in SESSIONS.items() if owner == user_id]


def build_rows(rng: random.Random) -> list[SeedRow]:
    owners: list[str | None] = [*USERS, LEGACY_USER, None]
    rows: list[SeedRow] = []
    for owner in owners:
        sessions = [sid for sid, (_, _, o) in SESSIONS.items() if o == owner]
        plan = [("failed", FAILED_AGES)] * rng.randint(4, 9)
        plan += [("processing", PROCESSING_AGES)] * rng.randint(1, 3)
        plan += [(rng.choice(OTHER_STATUSES), FAILED_AGES)] * rng.randint(2, 4)
        for status, ages in plan:
            index = len(rows)
            # Whole minutes plus a distinct fraction of a second: every created_at differs
            # from every other, and boundaries stay minutes away.
            age = rng.choice(ages) * 60 + index / 100
            at = f"2024-05-01T12:{index % 60:02d}:00.000Z"
            parameters = (
                error_parameters(rng.randrange(ERROR_VARIANTS), at, owner)
                if status == "failed"
                else {"steps": 30}
            )
            rows.append(
                SeedRow(
                    id=f"gen-{index:03d}",
                    user_id=owner,
                    session_id=rng.choice([*sessions, None]) if sessions else None,
                    model_id=rng.choice(MODELS),
                    status=status,
                    age_seconds=age,
                    parameters=parameters,
                )
            )
    return rows


def seed(dsn: str, *, rng_seed: int = 20240601) -> Seeded:
    rows = build_rows(random.Random(rng_seed))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL.read_text())
        with conn.transaction(), conn.cursor() as cur:
            for user_id, email in EMAILS.items():
                cur.execute("INSERT INTO auth.users (id, email) VALUES (%s, %s)", (user_id, email))
            for profile_id, (name, username) in PROFILES.items():
                cur.execute(
                    "INSERT INTO profiles (id, display_name, username) VALUES (%s, %s, %s)",
                    (profile_id, name, username),
                )
            for project_id, project_name in PROJECTS.items():
                cur.execute(
                    "INSERT INTO projects (id, name) VALUES (%s, %s)", (project_id, project_name)
                )
            for session_id, (session_name, project, _) in SESSIONS.items():
                cur.execute(
                    "INSERT INTO sessions (id, name, project_id) VALUES (%s, %s, %s)",
                    (session_id, session_name, project),
                )
            cur.executemany(
                "INSERT INTO generations (id, user_id, session_id, model_id, prompt, status,"
                " parameters, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s,"
                " now() - make_interval(secs => %s), now())",
                [
                    (
                        r.id,
                        r.user_id,
                        r.session_id,
                        r.model_id,
                        f"a prompt of {r.id}",
                        r.status,
                        json.dumps(r.parameters),
                        r.age_seconds,
                    )
                    for r in rows
                ],
            )
    return Seeded(dsn=dsn, rows=tuple(rows))
