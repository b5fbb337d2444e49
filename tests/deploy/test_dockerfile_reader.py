"""The Dockerfile reader the image test relies on: if it misreads, that test proves nothing."""

from __future__ import annotations

import pytest

from tests.deploy.dockerfile import DockerIgnore, assignments, parse_dockerfile

SAMPLE = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11-slim
FROM python:3.11-slim AS builder
ARG V=1.2
ENV A=/opt/a \\
    # a comment between continued lines
    B="two words" C=$A/bin:${A}/lib
RUN --mount=type=cache,target=/root/.cache \\
    echo hi
FROM python:3.11-slim
CMD ["serve", "--port", "8000"]
"""


def test_stages_instructions_flags_and_continuations() -> None:
    builder, final = parse_dockerfile(SAMPLE)
    assert (builder.base, builder.name, final.name) == ("python:3.11-slim", "builder", None)
    assert [i.keyword for i in builder.instructions] == ["ARG", "ENV", "RUN"]
    run = builder.last("RUN")
    assert run.flags == {"mount": "type=cache,target=/root/.cache"}
    assert run.arguments == "echo hi"
    assert final.last("CMD").exec_form() == ["serve", "--port", "8000"]


def test_env_assignments_substitute_left_to_right() -> None:
    env = assignments(parse_dockerfile(SAMPLE)[0].last("ENV"), {})
    assert env == {"A": "/opt/a", "B": "two words", "C": "/opt/a/bin:/opt/a/lib"}


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("pyproject.toml", False),
        ("receiver/web/app.py", False),  # re-included directory covers its files
        ("receiver/__pycache__/x.cpython-311.pyc", True),
        ("receiver/web/__pycache__", True),
        (".venv/bin/python", True),  # `*` covers every top-level entry
        ("failwatch.db", True),
        ("tests/test_docs.py", True),
    ],
)
def test_dockerignore_last_match_wins_and_directories_cover_their_files(
    path: str, excluded: bool
) -> None:
    rules = DockerIgnore("*\n!pyproject.toml\n!receiver\n**/__pycache__\n")
    assert rules.excluded(path) is excluded
