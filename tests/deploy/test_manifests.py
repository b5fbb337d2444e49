"""The Kubernetes manifests and the Compose file agree with the code and the image.

yamllint and hadolint check their form (`make lint`); these tests check what they mean:
known setting names only (failwatch refuses to start on an unknown FAILWATCH_ variable:
better to learn that here than from a crash-looping pod), a settings file that loads,
probes on the real endpoints, and the image's user, port and command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receiver.config.settings import CONFIG_ENV, environment_names, load_settings
from tests.deploy.manifests import (
    DEPLOY,
    DOCKERFILE,
    KUBERNETES,
    compose,
    dockerfile,
    failwatch_container,
    kubernetes,
    prestop_sleep_seconds,
)

KNOWN_VARIABLES = set(environment_names().values()) | {CONFIG_ENV}


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return kubernetes()


@pytest.fixture(scope="module")
def container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return failwatch_container(manifests)


def image_uid() -> int:
    final = dockerfile()[-1]
    return int(final.last("USER").arguments.partition(":")[0])


def test_every_failwatch_variable_named_anywhere_is_a_setting(
    manifests: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    named = set(manifests["Secret"]["stringData"])
    named |= {item["name"] for item in container.get("env", [])}
    named |= set(compose()["services"]["failwatch"]["environment"])
    unknown = {name for name in named if name.startswith("FAILWATCH_")} - KNOWN_VARIABLES
    assert unknown == set()


def test_the_secret_example_holds_placeholders_only(manifests: dict[str, Any]) -> None:
    values = manifests["Secret"]["stringData"]
    assert values, "the example should show which secrets exist"
    assert all("REPLACE_ME" in value for value in values.values()), values


def test_the_configmap_is_a_valid_settings_file_at_the_configured_path(
    manifests: dict[str, dict[str, Any]], container: dict[str, Any], tmp_path: Path
) -> None:
    (key, text), *others = manifests["ConfigMap"]["data"].items()
    assert others == []
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "config"]
    configured = {item["name"]: item["value"] for item in container["env"]}[CONFIG_ENV]
    assert configured == f"{mount['mountPath']}/{key}"

    path = tmp_path / key
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path)
    assert len(settings.routes().walk()) > 1, "the example should show a routing tree"
    assert settings.classifier.rules, "the example should add a classifier rule"
    assert not settings.classifier.mismatches(), "its examples should hold"


def test_the_deployment_runs_replicas_the_way_the_image_expects(
    manifests: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    deployment = manifests["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    final = dockerfile()[-1]
    assert container["args"] == final.last("CMD").exec_form()
    (port,) = container["ports"]
    assert str(port["containerPort"]) == final.last("EXPOSE").arguments

    security = {**pod["securityContext"], **container["securityContext"]}
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == image_uid()
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False

    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["terminationGracePeriodSeconds"] > prestop_sleep_seconds(container)


def test_service_and_disruption_budget_select_the_deployments_pods(
    manifests: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    deployment = manifests["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()

    service = manifests["Service"]["spec"]
    assert service["selector"].items() <= pod_labels.items()
    port_names = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["ports"]} <= port_names

    budget = manifests["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["minAvailable"] < deployment["spec"]["replicas"]


def test_kustomization_applies_every_manifest_but_the_secret_example(
    manifests: dict[str, dict[str, Any]],
) -> None:
    listed = set(manifests["Kustomization"]["resources"])
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}


def test_compose_builds_this_dockerfile_and_waits_for_its_dependencies() -> None:
    services = compose()["services"]
    failwatch = services["failwatch"]
    context = DEPLOY / failwatch["build"]["context"]
    assert (context / failwatch["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert set(failwatch["depends_on"]) == set(services) - {"failwatch"}
    environment = failwatch["environment"]
    assert environment["FAILWATCH_SMTP_HOST"] in services
    assert "${FAILWATCH_STATE_URL:-postgresql://" in environment["FAILWATCH_STATE_URL"]
    published = [port for service in services.values() for port in service.get("ports", [])]
    assert all(port.startswith("127.0.0.1:") for port in published), "loopback only"
