"""The image's install and start commands work, run from the Dockerfile itself.

Without a container engine: the Dockerfile is executed step by step in a temporary
directory (see `tests/deploy/image.py` for the two stand-ins), and the resulting
environment is started with the image's ENTRYPOINT, CMD and ENV. This runs everywhere and
in seconds; `test_container.py` builds and runs the real image where an engine is present.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.deploy.dockerfile import parse_dockerfile
from tests.deploy.image import Image, build
from tests.deploy.manifests import DOCKERFILE, REPO, load_script
from tests.serving import Server, clean_environment, free_port, running

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(180)]

UV = REPO / ".tools" / "bin" / "uv"
SECRET = "image-test-secret"


def makefile_uv_version() -> str:
    found = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    assert found, "the Makefile pins no UV_VERSION"
    return found.group(1)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    if not UV.exists():
        pytest.skip(f"no {UV.relative_to(REPO)}: run `make .venv/.synced` first")
    stages = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    return build(
        stages,
        context=REPO,
        root=tmp_path_factory.mktemp("image"),
        host_env=clean_environment(),
        python=sys.executable,
        uv=UV,
        timeout=150,
    )


def start_command(image: Image, port: int) -> list[str]:
    """ENTRYPOINT + CMD, with the exposed port swapped for a free one."""
    (exposed,) = image.exposed
    return [str(port) if arg == str(exposed) else arg for arg in image.entrypoint + image.cmd]


def healthcheck(image: Image, server: Server, scratch: Path) -> int:
    """The image's HEALTHCHECK script, run on the one server under test. In a container
    /proc shows that server alone; here it shows the whole machine, so the script is given
    a /proc that holds only the server's entry."""
    python, script = image.healthcheck
    assert python == "python", image.healthcheck
    proc = scratch / "proc"
    proc.mkdir(exist_ok=True)
    entry = proc / str(server.process.pid)
    if not entry.is_symlink():
        entry.symlink_to(f"/proc/{server.process.pid}")
    status: int = load_script(Path(script)).main(proc=proc)
    return status


def test_the_image_pins_the_makefiles_uv_and_runs_unprivileged(image: Image) -> None:
    assert image.uv_version == makefile_uv_version()
    assert image.user is not None
    uid, _, gid = image.user.partition(":")
    assert uid.isdigit(), "USER must be numeric, so runAsNonRoot can verify it"
    assert int(uid) != 0
    assert gid == "" or int(gid) != 0
    assert image.uid_created == int(uid), "USER must be the uid the image creates"
    assert image.stop_signal == "SIGTERM"


def test_failwatch_is_installed_into_the_venv_not_run_from_the_sources(image: Image) -> None:
    done = subprocess.run(
        ["python", "-c", "import receiver, sys; print(receiver.__file__); print(sys.prefix)"],
        env=image.env,
        cwd=image.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    module, prefix = done.stdout.split()
    assert Path(module).is_relative_to(prefix), "failwatch must be a regular install"
    assert Path(prefix).is_relative_to(image.root)
    assert not (image.root / "src").exists(), "the builder's sources must not be in the image"


def test_the_image_refuses_to_serve_without_a_webhook_secret(image: Image) -> None:
    done = subprocess.run(
        start_command(image, free_port("0.0.0.0")),  # noqa: S104 - the image binds all interfaces
        env=image.env,
        cwd=image.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "FAILWATCH_WEBHOOK_SECRET" in done.stderr


def test_the_image_serves_ready_healthy_and_stores_state_on_its_volume(
    image: Image, tmp_path: Path
) -> None:
    port = free_port("0.0.0.0")  # noqa: S104 - the image binds all interfaces
    env = {**image.env, "FAILWATCH_WEBHOOK_SECRET": SECRET}
    state = re.sub(r"^sqlite:///", "", env["FAILWATCH_STATE_URL"])
    assert image.workdir is not None
    # The directory the image makes for its uid, where the volume is mounted.
    assert Path(state).parent == image.workdir, "the SQLite state must live in the workdir"
    with running(
        start_command(image, port),
        env=env,
        cwd=image.workdir,
        port=port,
        log_path=tmp_path / "serve.log",
    ) as server:
        server.wait_ready()
        assert httpx.get(f"{server.url}/readyz", trust_env=False).status_code == 200
        health = httpx.get(f"{server.url}/healthz", trust_env=False)
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        assert healthcheck(image, server, tmp_path) == 0

        body = {
            "type": "INSERT",
            "table": "generations",
            "schema": "public",
            "record": {"id": "image-g1", "status": "failed", "parameters": {"error": "boom"}},
            "old_record": None,
        }
        answer = httpx.post(
            f"{server.url}/webhooks/supabase",
            content=json.dumps(body),
            headers={"x-supabase-webhook-source": SECRET},
            trust_env=False,
        )
        assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
        assert Path(state).exists()

        assert server.stop(timeout=30) == 0, server.log()
    assert healthcheck(image, server, tmp_path) != 0, "the health check must fail when down"
