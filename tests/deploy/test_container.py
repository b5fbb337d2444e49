"""The image, built by a real engine (podman or Docker) and run the way production runs it.

The container runs hardened: read-only root, /tmp on tmpfs, every capability dropped, no
privilege escalation. Against it, once with SQLite state on a volume and once with the
machine's PostgreSQL as state: /healthz, /readyz, a 202 webhook and a 401 one, a non-root
uid, the image's own HEALTHCHECK, SIGTERM with a request in flight (answered, exit 0 within
the grace period), and a new container on the same state that still knows the failure.
Without an engine these tests skip, loudly; under CI=true a missing engine is a failure.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.deploy.container import (
    Engine,
    EngineError,
    build,
    find_engine,
    host_ca_bundle,
    resolve_base,
)
from tests.deploy.graceful import failure_body, in_flight_across_stop
from tests.deploy.manifests import DEPLOY, shutdown_budget_seconds
from tests.serving import READY_TIMEOUT, free_port, wait_ready

pytestmark = [pytest.mark.acceptance, pytest.mark.container, pytest.mark.timeout(1200)]

TAG = "localhost/failwatch:image-test"
SECRET = "container-test-secret"
HEADERS = {"x-supabase-webhook-source": SECRET, "content-type": "application/json"}
STATE_DIRECTORY = "/var/lib/failwatch"  # where the image's SQLite state lives
HARDENED = (
    "--read-only",
    "--tmpfs",
    "/tmp",  # the container's own /tmp, on tmpfs
    "--cap-drop",
    "all",
    "--security-opt",
    "no-new-privileges",
)
GRACE = shutdown_budget_seconds()  # what Kubernetes gives failwatch after SIGTERM


@pytest.fixture(scope="module")
def engine() -> Engine:
    found = find_engine()
    if isinstance(found, Engine):
        return found
    message = f"no container engine ({found})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}: required under CI=true (.ci/run installs podman)")
    pytest.skip(f"SKIPPING CONTAINER IMAGE TESTS — {message}")


@pytest.fixture(scope="module")
def image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The image, built on the Dockerfile's base or, offline, on a Debian-made one. The
    index secret names PyPI itself, so both optional secrets take part in the build."""
    index = tmp_path_factory.mktemp("secrets") / "index_url"
    index.write_text("https://pypi.org/simple\n", encoding="utf-8")
    base = resolve_base(engine)
    build(engine, tag=TAG, base=base, ca_bundle=host_ca_bundle(), index_url_file=index)
    return TAG


@dataclass
class Container:
    engine: Engine
    name: str
    base_url: str
    started: list[str] = field(default_factory=list)

    def logs(self) -> str:
        done = self.engine.run("logs", self.name, check=False)
        return done.stdout + done.stderr

    def running(self) -> bool:
        state = self.engine.run("inspect", "--format", "{{.State.Running}}", self.name)
        return state.stdout.strip() == "true"

    def wait_ready(self) -> None:
        wait_ready(
            self.base_url,
            exited=lambda: None if self.running() else "the container stopped",
            log=self.logs,
        )

    def exit_code(self, *, timeout: float) -> int:
        """`engine wait`: the exit code once the container has stopped."""
        try:
            done = self.engine.run("wait", self.name, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout:.0f} s after SIGTERM") from None
        return int(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Deployment:
    """How one kind of state is run: engine flags, serve's arguments, where it answers."""

    flags: tuple[str, ...]
    args: tuple[str, ...]
    port: int


def scratch_name() -> str:
    """A name for a container or volume of this test run."""
    return f"failwatch-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def containers(engine: Engine) -> Iterator[list[str]]:
    """Names of the containers a test starts; all removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        engine.run("rm", "--force", name, check=False)


@pytest.fixture
def sqlite_on_a_volume(engine: Engine) -> Iterator[Deployment]:
    volume = scratch_name()
    engine.run("volume", "create", volume)
    port = free_port()
    try:
        yield Deployment(
            flags=(
                "--volume",
                f"{volume}:{STATE_DIRECTORY}",
                "--publish",
                f"127.0.0.1:{port}:8000",
            ),
            args=(),  # the image's own CMD
            port=port,
        )
    finally:
        engine.run("volume", "rm", "--force", volume, check=False)


@pytest.fixture
def postgres_state(pg_dsn: str) -> Deployment:
    """The machine's PostgreSQL is on its loopback interface: the container shares the
    host's network, and serve is told the port (which the HEALTHCHECK must follow)."""
    port = free_port()
    return Deployment(
        flags=("--network", "host", "--env", f"FAILWATCH_STATE_URL={pg_dsn}"),
        args=("serve", "--host", "127.0.0.1", "--port", str(port)),
        port=port,
    )


def start(engine: Engine, image: str, deployment: Deployment, names: list[str]) -> Container:
    name = scratch_name()
    names.append(name)
    engine.run(
        "run",
        "--detach",
        "--name",
        name,
        *HARDENED,
        "--env",
        f"FAILWATCH_WEBHOOK_SECRET={SECRET}",
        *deployment.flags,
        image,
        *deployment.args,
    )
    container = Container(engine, name, f"http://127.0.0.1:{deployment.port}")
    container.wait_ready()
    return container


def post_failure(
    container: Container, generation_id: str, *, secret: str = SECRET
) -> httpx.Response:
    return httpx.post(
        f"{container.base_url}/webhooks/supabase",
        content=failure_body(generation_id),
        headers={**HEADERS, "x-supabase-webhook-source": secret},
        trust_env=False,
    )


async def sigterm_with_a_request_in_flight(container: Container) -> tuple[httpx.Response, float]:
    """One webhook whose body is still arriving when the engine sends the container SIGTERM."""
    async with httpx.AsyncClient(
        base_url=container.base_url, timeout=httpx.Timeout(GRACE), trust_env=False
    ) as client:
        return await in_flight_across_stop(
            client,
            headers=HEADERS,
            stop=lambda: container.engine.run("kill", "--signal", "TERM", container.name),
        )


@pytest.mark.parametrize(
    "state", ["sqlite_on_a_volume", pytest.param("postgres_state", marks=pytest.mark.postgres)]
)
def test_the_hardened_container_serves_stops_gracefully_and_keeps_its_state(
    engine: Engine,
    image: str,
    containers: list[str],
    state: str,
    request: pytest.FixtureRequest,
) -> None:
    deployment: Deployment = request.getfixturevalue(state)
    first = start(engine, image, deployment, containers)

    health = httpx.get(f"{first.base_url}/healthz", trust_env=False)
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert httpx.get(f"{first.base_url}/readyz", trust_env=False).status_code == 200
    accepted = post_failure(first, "gen-container-1")
    assert (accepted.status_code, accepted.json()) == (202, {"status": "accepted"})
    assert post_failure(first, "gen-container-2", secret="wrong").status_code == 401

    uid = engine.run("exec", first.name, "id", "-u").stdout.strip()
    assert uid.isdigit(), uid
    assert int(uid) != 0, "serve runs as root"

    check = engine.healthcheck(image)
    assert check[:1] == ["CMD"], f"the image lost its HEALTHCHECK: {check}"
    healthy = engine.run("exec", first.name, *check[1:], check=False)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr

    held_answer, stopped_at = asyncio.run(sigterm_with_a_request_in_flight(first))
    assert (held_answer.status_code, held_answer.json()) == (202, {"status": "accepted"})
    exit_code = first.exit_code(timeout=stopped_at + GRACE - time.monotonic())
    assert exit_code == 0, first.logs()

    again = start(engine, image, deployment, containers)
    for generation_id in ("gen-container-1", "gen-in-flight"):
        repeat = post_failure(again, generation_id)
        assert (repeat.status_code, repeat.json()) == (202, {"status": "duplicate"})
    engine.run("stop", "-t", str(int(GRACE)), again.name, timeout=GRACE + 30)
    assert again.exit_code(timeout=30) == 0, again.logs()


def test_sqlite_state_without_a_volume_is_one_line_naming_the_directory(
    engine: Engine, image: str, containers: list[str]
) -> None:
    """The read-only root leaves the state directory unwritable: say so, in one line."""
    name = scratch_name()
    containers.append(name)  # removed even if serve, wrongly, keeps running
    done = engine.run(
        "run",
        "--name",
        name,
        *HARDENED,
        "--env",
        f"FAILWATCH_WEBHOOK_SECRET={SECRET}",
        image,
        timeout=READY_TIMEOUT,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in output, output
    [line] = [line for line in output.splitlines() if STATE_DIRECTORY in line]
    assert "not writable" in line, line


def compose_config(engine: Engine, env: dict[str, str]) -> dict[str, object]:
    """deploy/docker-compose.yml as the engine's compose tool reads it: `docker compose
    config` for Docker, podman-compose (a dev dependency) for podman."""
    compose_file = str(DEPLOY / "docker-compose.yml")
    if engine.name == "docker":
        command = ["docker", "compose", "--file", compose_file, "config"]
    else:
        podman_compose = Path(sys.executable).parent / "podman-compose"
        command = [str(podman_compose), "--file", compose_file, "config"]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise EngineError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    loaded: dict[str, object] = yaml.safe_load(done.stdout)
    return loaded


@pytest.mark.parametrize(
    ("state_url", "expected"),
    [
        # The default: PostgreSQL in the compose project.
        (None, "postgresql://failwatch:failwatch@postgres:5432/failwatch"),
        # The README's variant: SQLite on the failwatch-state volume.
        ("sqlite:////var/lib/failwatch/failwatch.db", "sqlite:////var/lib/failwatch/failwatch.db"),
    ],
)
def test_the_compose_file_passes_the_engines_config_check(
    engine: Engine, state_url: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAILWATCH_")}
    if state_url is not None:
        env["FAILWATCH_STATE_URL"] = state_url
    services = compose_config(engine, env)["services"]
    assert isinstance(services, dict)
    failwatch = services["failwatch"]
    assert failwatch["environment"]["FAILWATCH_STATE_URL"] == expected
    assert failwatch["build"]["dockerfile"] == "deploy/Dockerfile"
