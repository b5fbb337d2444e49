"""Read a Dockerfile and its `.dockerignore` the way the builder does, for tests.

Only what `deploy/Dockerfile` uses is understood: stages, line continuations, comments,
instruction flags (`--from=`, `--mount=`), exec (JSON) and shell forms, `ARG`/`ENV` with
`$VAR` / `${VAR}` substitution. The tests run the image's commands from what is parsed
here, so the Dockerfile stays the single place that says how the image is built.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    flags: Mapping[str, str]
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction (`CMD ["a", "b"]`)."""
        value = json.loads(self.arguments)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"line {self.line}: {self.keyword} is not in exec (JSON) form")
        return value


@dataclass(slots=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise LookupError(f"stage {self.name or self.base} has no {keyword}")
        return found[-1]


def parse_dockerfile(text: str) -> list[Stage]:
    """The build stages, in order, each with its instructions."""
    stages: list[Stage] = []
    for line, keyword, rest in _logical_lines(text):
        flags, arguments = _split_flags(rest)
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            continue
        if not stages:
            if keyword == "ARG":  # an ARG before the first FROM
                continue
            raise ValueError(f"line {line}: {keyword} before FROM")
        stages[-1].instructions.append(Instruction(keyword, flags, arguments, line))
    return stages


def _logical_lines(text: str) -> list[tuple[int, str, str]]:
    """(first line number, KEYWORD, rest) per instruction, continuations joined."""
    found: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments may sit between continued lines too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        found.append((start, keyword.upper(), rest.strip()))
        pending = ""
    if pending:
        raise ValueError(f"line {start}: continuation runs past the end of the file")
    return found


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        name, _, value = token[2:].partition("=")
        flags[name] = value
        rest = rest.lstrip()
    return flags, rest


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """`$NAME` and `${NAME}` replaced from `variables` (unknown names become empty)."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def assignments(instruction: Instruction, variables: Mapping[str, str]) -> dict[str, str]:
    """The `KEY=value` pairs of an `ENV` or `ARG` line, substituted left to right."""
    scope = dict(variables)
    result: dict[str, str] = {}
    for token in shlex.split(instruction.arguments):
        key, sep, value = token.partition("=")
        if not sep and instruction.keyword == "ARG":
            continue  # an ARG without a default
        if not sep:
            raise ValueError(f"line {instruction.line}: write ENV as KEY=value")
        result[key] = scope[key] = substitute(value, scope)
    return result


class DockerIgnore:
    """`.dockerignore` rules: the last matching pattern wins, `!` re-includes, and a pattern
    matching a directory covers everything below it."""

    def __init__(self, text: str) -> None:
        self._rules: list[tuple[re.Pattern[str], bool]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line.removeprefix("!").strip().strip("/")
            self._rules.append((re.compile(_glob_to_regex(pattern)), include))

    @classmethod
    def of(cls, context: Path) -> DockerIgnore:
        path = context / ".dockerignore"
        return cls(path.read_text(encoding="utf-8") if path.exists() else "")

    def excluded(self, relative: str) -> bool:
        parts = relative.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for regex, include in self._rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                verdict = not include
        return verdict


def _glob_to_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return out
