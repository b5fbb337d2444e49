"""Build `deploy/Dockerfile` without a Docker engine: run its steps in a directory.

The container's file system is a temporary directory (`root`): every absolute path the
Dockerfile names (WORKDIR, COPY destinations and `--from` sources, path-valued
ENV) is moved under it, everywhere it appears. The builder stage's RUN commands run as
written, with two stand-ins, both stated here: the host's Python plays the base image's,
and the worktree's uv (the Makefile's, whose version must equal the Dockerfile's pin)
plays the `pip install uv==…` step. The final stage's RUN may only create the user and
directories; anything else is refused, so a new step in the Dockerfile makes this test
fail until it learns what the step means.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.dockerfile import (
    DockerIgnore,
    Instruction,
    Stage,
    assignments,
    substitute,
)

_UV_INSTALL = re.compile(r"\bpip install\b.*\buv==([\w.]+)")
_ABSOLUTE = re.compile(r"^/[\w./-]*$")
_FINAL_SETUP_COMMANDS = frozenset({"groupadd", "useradd", "mkdir", "chown"})


@dataclass(slots=True)
class Image:
    """What the final stage says about running the image, with paths under `root`."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    user: str | None = None
    uid_created: int | None = None
    exposed: list[int] = field(default_factory=list)
    stop_signal: str | None = None
    healthcheck: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    uv_version: str | None = None


class PathMap:
    """Container paths → the same paths under `root`, in one pass over any text."""

    def __init__(self, root: Path, paths: set[str]) -> None:
        self.root = root
        ordered = sorted((p.rstrip("/") for p in paths if p.rstrip("/")), key=len, reverse=True)
        alternatives = "|".join(re.escape(p) for p in ordered)
        self._regex = re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w.-])") if ordered else None

    def __call__(self, text: str) -> str:
        if self._regex is None:
            return text
        return self._regex.sub(lambda m: f"{self.root}{m.group(0)}", text)

    def path(self, container_path: str) -> Path:
        return Path(self(container_path))


def container_paths(stages: list[Stage]) -> set[str]:
    """Every absolute directory or file the Dockerfile places something at."""
    found: set[str] = set()
    for stage in stages:
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                found.add(instruction.arguments)
            elif instruction.keyword == "COPY":
                words = shlex.split(instruction.arguments)
                found.add(words[-1])
                if "from" in instruction.flags:
                    found.update(words[:-1])
            elif instruction.keyword == "ENV":
                found.update(v for v in assignments(instruction, {}).values() if _ABSOLUTE.match(v))
    return {p for p in found if p.startswith("/") and p != "/"}


def build(
    stages: list[Stage],
    *,
    context: Path,
    root: Path,
    host_env: Mapping[str, str],
    python: str,
    uv: Path,
    timeout: float,
) -> Image:
    """Run the builder stage, assemble the final one; return how to run the image."""
    if len(stages) != 2:
        raise AssertionError(f"expected a builder and a final stage, found {len(stages)}")
    builder, final = stages
    paths = PathMap(root, container_paths(stages))
    image = Image(root=root)
    _run_builder(builder, paths, image, context, host_env, python, uv, timeout)
    _assemble_final(final, builder, paths, image, context, host_env)
    return image


def _run_builder(
    stage: Stage,
    paths: PathMap,
    image: Image,
    context: Path,
    host_env: Mapping[str, str],
    python: str,
    uv: Path,
    timeout: float,
) -> None:
    ignore = DockerIgnore.of(context)
    build_args: dict[str, str] = {}
    env: dict[str, str] = {}
    # The host's interpreter stands in for the base image's /usr/local/bin/python3.
    base = {**host_env, "UV_PYTHON": python}
    workdir = paths.root
    for instruction in stage.instructions:
        text = paths(instruction.arguments)
        keyword = instruction.keyword
        if keyword == "ARG":
            build_args.update(assignments(_with(instruction, text), build_args))
        elif keyword == "ENV":
            env.update(assignments(_with(instruction, text), {**base, **build_args, **env}))
        elif keyword == "WORKDIR":
            workdir = workdir / text
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            if "from" in instruction.flags:
                raise AssertionError(f"line {instruction.line}: COPY --from in the builder")
            *sources, destination = shlex.split(text)
            _copy_from_context(context, ignore, sources, workdir / destination)
        elif keyword == "RUN":
            command = substitute(text, {**build_args, **env})
            installed = _UV_INSTALL.search(command)
            if installed:
                image.uv_version = installed.group(1)
                base["PATH"] = f"{uv.parent}:{base.get('PATH', '')}"
                continue
            done = subprocess.run(  # the Dockerfile's own command
                ["/bin/sh", "-c", text],
                env={**base, **build_args, **env},
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if done.returncode != 0:
                raise AssertionError(
                    f"line {instruction.line}: RUN {text!r} failed ({done.returncode}):\n"
                    f"{done.stdout}{done.stderr}"
                )
        elif keyword != "LABEL":
            raise AssertionError(f"line {instruction.line}: builder {keyword} is not understood")


def _with(instruction: Instruction, text: str) -> Instruction:
    return Instruction(instruction.keyword, instruction.flags, text, instruction.line)


def _copy_from_context(
    context: Path, ignore: DockerIgnore, sources: list[str], destination: Path
) -> None:
    into_directory = len(sources) > 1 or str(destination).endswith("/") or destination.is_dir()
    for source in sources:
        relative = source.removeprefix("./").rstrip("/")
        origin = context / relative
        if ignore.excluded(relative) or not origin.exists():
            raise AssertionError(f"COPY {source}: not in the build context (.dockerignore?)")
        if origin.is_dir():
            for file in sorted(origin.rglob("*")):
                inner = file.relative_to(context).as_posix()
                if file.is_file() and not ignore.excluded(inner):
                    target = destination / file.relative_to(origin)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, target)
        else:
            target = destination / origin.name if into_directory else destination
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)


def _assemble_final(
    stage: Stage,
    builder: Stage,
    paths: PathMap,
    image: Image,
    context: Path,
    host_env: Mapping[str, str],
) -> None:
    if stage.base != builder.base:
        raise AssertionError(f"the final stage ({stage.base}) must match the builder's base")
    copied: list[Path] = []
    workdir = paths.root
    for instruction in stage.instructions:
        text = paths(instruction.arguments)
        keyword = instruction.keyword
        if keyword == "RUN":
            _final_setup(instruction, text, image)
        elif keyword == "COPY" and "from" not in instruction.flags:
            *sources, destination = shlex.split(text)
            _copy_from_context(context, DockerIgnore.of(context), sources, Path(destination))
            copied.append(Path(destination))
        elif keyword == "COPY":
            if instruction.flags["from"] != builder.name:
                raise AssertionError(
                    f"line {instruction.line}: the final stage copies only from the builder"
                )
            *sources, destination = shlex.split(text)
            for source in sources:
                if Path(source) != Path(destination):  # one shared root: same path, in place
                    shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
            copied.append(Path(destination))
        elif keyword == "ENV":
            image.env.update(assignments(_with(instruction, text), {**host_env, **image.env}))
        elif keyword == "WORKDIR":
            workdir = workdir / text
            workdir.mkdir(parents=True, exist_ok=True)
            image.workdir = workdir
        elif keyword == "USER":
            image.user = instruction.arguments
        elif keyword == "EXPOSE":
            image.exposed.extend(int(p.partition("/")[0]) for p in text.split())
        elif keyword == "STOPSIGNAL":
            image.stop_signal = text
        elif keyword == "HEALTHCHECK":
            form, _, rest = text.partition(" ")
            if form != "CMD":
                raise AssertionError(f"line {instruction.line}: HEALTHCHECK needs CMD [...]")
            image.healthcheck = json.loads(rest)
        elif keyword == "ENTRYPOINT":
            image.entrypoint = _with(instruction, text).exec_form()
        elif keyword == "CMD":
            image.cmd = _with(instruction, text).exec_form()
        elif keyword != "LABEL":
            raise AssertionError(f"line {instruction.line}: final {keyword} is not understood")
    _drop_builder_leftovers(builder, paths, copied)


def _final_setup(instruction: Instruction, text: str, image: Image) -> None:
    """Users and directories: the directories are made; users can't be, unprivileged."""
    for command in text.split("&&"):
        words = shlex.split(command)
        if not words or words[0] not in _FINAL_SETUP_COMMANDS:
            raise AssertionError(
                f"line {instruction.line}: final-stage RUN {command.strip()!r} is not understood"
            )
        if words[0] == "mkdir":
            for directory in (w for w in words[1:] if not w.startswith("-")):
                Path(directory).mkdir(parents=True, exist_ok=True)
        if words[0] == "useradd" and "--uid" in words:
            image.uid_created = int(words[words.index("--uid") + 1])


def _drop_builder_leftovers(builder: Stage, paths: PathMap, copied: list[Path]) -> None:
    """The final image has only what it copied: remove the builder's own directories."""
    for instruction in builder.all("WORKDIR"):
        directory = paths.path(instruction.arguments)
        if not any(c == directory or directory in c.parents for c in copied):
            shutil.rmtree(directory, ignore_errors=True)
