"""Build and run `deploy/Dockerfile` with a real container engine: podman or Docker.

`make image` and the container tests share this module, so what the tests build is what a
user gets. The engine is the first of podman and Docker that answers `info` (a Docker client
without a daemon does not count). The base image is the Dockerfile's own default when the
engine has it or can pull it; where no registry is reachable, it is made from Debian's
packages with debootstrap (python3 and its venv module, nothing else) and kept in the
engine's store under `LOCAL_BASE`, so later builds reuse it.

Only the standard library: `make image` runs this with the system Python, before any venv.

    python3 -m tests.deploy.container [--tag T] [--base IMAGE] [--ca-bundle PEM]
                                      [--index-url-file FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
ENGINES = ("podman", "docker")
LOCAL_BASE = "localhost/failwatch-base:bookworm"
DEBIAN_SUITE = "bookworm"  # the official slim image's Debian, with Python 3.11
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Everything the image needs from its base: a Python >= 3.11 that can make a venv, the
# CA certificates for Slack and SMTP over TLS, and groupadd/useradd (in every Debian).
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BUILD_TIMEOUT = 900.0  # seconds; a cold build downloads every dependency
_BASE_ARG = re.compile(r"^ARG\s+BASE_IMAGE=(\S+)\s*$", re.MULTILINE)


class EngineError(RuntimeError):
    """An engine command failed; the message holds its command line and output."""


@dataclass(frozen=True, slots=True)
class Engine:
    name: str  # "podman" or "docker", also the command

    def run(
        self,
        *args: str,
        timeout: float = 120.0,
        check: bool = True,
        stdin: IO[bytes] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.name, *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise EngineError(
                f"`{self.name} {' '.join(args)}` failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )
        return done

    def has_image(self, reference: str) -> bool:
        return self.run("image", "inspect", reference, check=False).returncode == 0

    def image_config(self, reference: str) -> dict[str, Any]:
        """`image inspect` as a dict (podman and Docker differ in places: see callers)."""
        found: list[dict[str, Any]] = json.loads(self.run("image", "inspect", reference).stdout)
        return found[0]

    def healthcheck(self, reference: str) -> list[str]:
        """The image's HEALTHCHECK test (`["CMD", ...]`): podman keeps it at the top level,
        Docker in Config; empty when the image has none (podman's OCI format drops it)."""
        config = self.image_config(reference)
        check = config.get("Healthcheck") or config.get("Config", {}).get("Healthcheck") or {}
        test: list[str] = check.get("Test") or []
        return test

    def build_format(self) -> list[str]:
        """podman writes OCI images by default, which cannot hold a HEALTHCHECK."""
        return ["--format", "docker"] if self.name == "podman" else []


def find_engine() -> Engine | str:
    """The engine to use, or why there is none."""
    problems = []
    for name in ENGINES:
        if shutil.which(name) is None:
            problems.append(f"no `{name}`")
            continue
        done = subprocess.run(
            [name, "info"], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode == 0:
            return Engine(name)
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        problems.append(f"`{name} info` failed: {last}")
    return "; ".join(problems)


def default_base() -> str:
    """The base image the Dockerfile names by default."""
    found = _BASE_ARG.search(DOCKERFILE.read_text(encoding="utf-8"))
    if found is None:
        raise LookupError(f"{DOCKERFILE.name} has no `ARG BASE_IMAGE=...`")
    return found.group(1)


def resolve_base(engine: Engine, *, log: TextIO = sys.stderr) -> str:
    """The Dockerfile's default base if the engine has it or can pull it; otherwise the
    local Debian base, made once and reused."""
    named = default_base()
    if engine.has_image(named):
        return named
    pulled = engine.run("pull", named, check=False, timeout=600)
    if pulled.returncode == 0:
        return named
    reason = (pulled.stderr.strip().splitlines() or ["?"])[-1]
    print(f"image: cannot pull {named} ({reason})", file=log)
    if engine.has_image(LOCAL_BASE):
        print(f"image: building on {LOCAL_BASE}, made earlier from Debian's packages", file=log)
        return LOCAL_BASE
    print(f"image: making {LOCAL_BASE} from Debian's packages (debootstrap)", file=log)
    make_debian_base(engine, LOCAL_BASE)
    return LOCAL_BASE


def make_debian_base(engine: Engine, tag: str) -> None:
    """A minimal Debian with Python, imported into the engine as `tag`. Needs root and
    debootstrap (Debian's package of that name)."""
    if shutil.which("debootstrap") is None:
        raise EngineError("no debootstrap: install Debian's `debootstrap` package, or pass a base")
    with tempfile.TemporaryDirectory(prefix="failwatch-base-") as scratch:
        root = Path(scratch) / "root"
        done = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(DEBIAN_PACKAGES)}",
                DEBIAN_SUITE,
                str(root),
                DEBIAN_MIRROR,
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise EngineError(f"debootstrap failed ({done.returncode}):\n{done.stdout[-4000:]}")
        # The package downloads and lists are build leftovers, a third of the size.
        for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (root / leftovers).glob("*"):
                if entry.is_file():
                    entry.unlink()
        with subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE) as tar:
            engine.run("import", "--change", 'CMD ["/bin/bash"]', "-", tag, stdin=tar.stdout)
        if tar.returncode != 0:
            raise EngineError(f"tar of the Debian root failed ({tar.returncode})")


def build(
    engine: Engine,
    *,
    tag: str,
    base: str,
    ca_bundle: Path | None = None,
    index_url_file: Path | None = None,
) -> None:
    """`engine build` of deploy/Dockerfile from the repository root."""
    args = ["build", *engine.build_format(), "--file", str(DOCKERFILE), "--tag", tag]
    args += ["--build-arg", f"BASE_IMAGE={base}"]
    if ca_bundle is not None:
        args += ["--secret", f"id=ca_bundle,src={ca_bundle}"]
    if index_url_file is not None:
        args += ["--secret", f"id=index_url,src={index_url_file}"]
    engine.run(*args, str(REPO), timeout=BUILD_TIMEOUT)


def host_ca_bundle() -> Path | None:
    """The CA bundle this machine's own tools are told to trust (SSL_CERT_FILE), if any:
    what a TLS-inspecting proxy between the build and the package index needs."""
    named = os.environ.get("SSL_CERT_FILE")
    return Path(named) if named and Path(named).is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default="failwatch:local")
    parser.add_argument("--base", help="base image (default: the Dockerfile's, else Debian's)")
    parser.add_argument("--ca-bundle", type=Path, default=host_ca_bundle())
    parser.add_argument("--index-url-file", type=Path)
    args = parser.parse_args(argv)
    engine = find_engine()
    if isinstance(engine, str):
        print(f"image: no container engine: {engine}", file=sys.stderr)
        return 2
    try:
        base = args.base or resolve_base(engine)
        print(f"image: {engine.name} build on {base}", file=sys.stderr)
        build(
            engine,
            tag=args.tag,
            base=base,
            ca_bundle=args.ca_bundle,
            index_url_file=args.index_url_file,
        )
    except (EngineError, subprocess.TimeoutExpired) as exc:
        print(f"image: {exc}", file=sys.stderr)
        return 1
    print(f"image: built {args.tag}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
