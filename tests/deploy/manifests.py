"""The deployment files, loaded for tests: Kubernetes manifests, Compose, the Dockerfile."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.deploy.dockerfile import Stage, parse_dockerfile

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
HEALTHCHECK = DEPLOY / "healthcheck.py"


def kubernetes() -> dict[str, dict[str, Any]]:
    """Every manifest under deploy/kubernetes, by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["kind"] not in found, f"two manifests of kind {document['kind']}"
        found[document["kind"]] = document
    return found


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    )
    return document


def dockerfile() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def load_script(path: Path) -> ModuleType:
    """A standalone Python script of the image (not part of the package), as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def failwatch_container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = manifests["Deployment"]["spec"]["template"]["spec"][
        "containers"
    ]
    (container,) = containers
    return container


def prestop_sleep_seconds(container: dict[str, Any]) -> int:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command
    return int(command[1])


def shutdown_budget_seconds() -> float:
    """How long failwatch may take to stop after SIGTERM in Kubernetes: the grace period
    less the preStop sleep that runs first."""
    manifests = kubernetes()
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    return float(pod["terminationGracePeriodSeconds"]) - prestop_sleep_seconds(
        failwatch_container(manifests)
    )
