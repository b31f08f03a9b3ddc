"""Validates docker-compose.yml and the Kubernetes manifests of deploy/k8s.

Run by .ci/validate-deploy inside a venv with jsonschema, PyYAML and
kubernetes-validate. Offline: every schema is committed (deploy/schemas) or
bundled by kubernetes-validate. Prints one line per check; exits 1 on any problem.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "deploy" / "schemas"
K8S = ROOT / "deploy" / "k8s"
CHANNELS = ["webhook", "slack", "teams", "discord", "pagerduty", "opsgenie", "jira", "email"]
# The oldest Kubernetes minor the manifests are meant for, and the newest known.
K8S_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]
# Custom resources and the committed openAPIV3Schema each is checked against.
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobject_v1alpha1.schema.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.schema.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrule_v1.schema.yaml",
}

problems: list[str] = []


def fail(msg: str) -> None:
    problems.append(msg)
    print(f"  FAIL {msg}")


def ok(msg: str) -> None:
    print(f"  ok   {msg}")


def duration_seconds(text: str | int) -> float:
    """Herald durations: 500ms, 10s, 2m, 1h, 7d, or a number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?", str(text).strip())
    if not m:
        raise ValueError(f"not a duration: {text}")
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]
    return float(m.group(1)) * unit


def consumer_token(pattern: str) -> str:
    """Mirror of SubjectPattern::consumer_token (crates/herald-core/src/routing.rs)."""
    out = []
    for t in pattern.split("."):
        if t == ">":
            out.append("all")
        elif t == "*":
            out.append("any")
        else:
            out.append("".join(c if (c.isascii() and c.isalnum()) or c == "-" else "_" for c in t))
    return "_".join(out)


def load_crd_schema(file: str) -> dict:
    """A committed CRD schema. Its patterns are Go (RE2) expressions; the one
    construct Python's `re` reads differently, a global flag after `^`
    (`^(?i)...`), is moved to the front."""

    def fix(node: object) -> object:
        if isinstance(node, dict):
            return {
                k: (re.sub(r"^\^\(\?([a-z]+)\)", r"(?\1)^", v) if k == "pattern" and isinstance(v, str) else fix(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    return fix(yaml.safe_load((SCHEMAS / file).read_text()))


def strict(schema: object) -> object:
    """A copy of a CRD schema that rejects unknown fields, as the API server's
    pruning would drop them silently: every object with `properties` and no
    `additionalProperties` (or preserve-unknown-fields) gets additionalProperties: false."""
    schema = copy.deepcopy(schema)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return schema


# ---------------------------------------------------------------------------
# docker compose


def check_compose() -> None:
    print("docker-compose.yml against the Compose specification schema")
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors:
        fail(f"docker-compose.yml: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
    if not errors:
        ok("docker-compose.yml is valid")
    services = doc.get("services", {})
    for ch in CHANNELS:
        svc = services.get(f"herald-{ch}")
        if svc is None:
            fail(f"docker-compose.yml: no service herald-{ch}")
            continue
        build = svc.get("build", {})
        if build.get("args", {}).get("CHANNEL") != ch or build.get("dockerfile") != "deploy/docker/Dockerfile":
            fail(f"docker-compose.yml: herald-{ch} is not built from deploy/docker/Dockerfile with CHANNEL={ch}")
        if "readyz" not in " ".join(svc.get("healthcheck", {}).get("test", [])):
            fail(f"docker-compose.yml: herald-{ch} has no /readyz healthcheck")
        if svc.get("environment", {}).get("OTEL_SERVICE_NAME") != f"herald-{ch}":
            fail(f"docker-compose.yml: herald-{ch} has no OTEL_SERVICE_NAME herald-{ch}")
    for name in ("nats", "jaeger", "mailpit", "publish-samples"):
        if name not in services:
            fail(f"docker-compose.yml: no service {name}")
    ok("a service per channel, built from the one Dockerfile, with a /readyz healthcheck")


# ---------------------------------------------------------------------------
# Kubernetes


def render(path: Path) -> tuple[list[dict], str]:
    """The documents of one kustomization: rendered by kubectl or kustomize when
    either is installed, otherwise the plain files it lists (followed into bases),
    with its generated ConfigMaps added unhashed and patches not applied."""
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True)
        how = "kubectl kustomize"
    elif shutil.which("kustomize"):
        out = subprocess.run(["kustomize", "build", str(path)], capture_output=True, text=True)
        how = "kustomize build"
    else:
        return plain_files(path), "plain files (no kubectl or kustomize)"
    if out.returncode != 0:
        fail(f"{path.relative_to(ROOT)}: {how} failed: {out.stderr.strip()}")
        return [], how
    return [d for d in yaml.safe_load_all(out.stdout) if d], how


def plain_files(path: Path) -> list[dict]:
    k = yaml.safe_load((path / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for res in k.get("resources", []):
        p = path / res
        if p.is_dir():
            docs += plain_files(p)
        else:
            docs += [d for d in yaml.safe_load_all(p.read_text()) if d]
    for gen in k.get("configMapGenerator", []):
        data = {}
        for f in gen.get("files", []):
            key, _, src = f.partition("=") if "=" in f else (Path(f).name, "", f)
            data[key] = (path / (src or f)).read_text()
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    if k.get("namespace"):
        for d in docs:
            if d.get("kind") != "Namespace":
                d.setdefault("metadata", {}).setdefault("namespace", k["namespace"])
    return docs


def validate_docs(label: str, docs: list[dict]) -> None:
    crd_validators = {
        key: jsonschema.Draft7Validator(strict(load_crd_schema(f)))
        for key, f in CRD_SCHEMAS.items()
    }
    counts: dict[str, int] = {}
    for d in docs:
        key = (d.get("apiVersion"), d.get("kind"))
        name = f"{d.get('kind')}/{d.get('metadata', {}).get('name')}"
        counts[d.get("kind")] = counts.get(d.get("kind"), 0) + 1
        if not d.get("metadata", {}).get("name"):
            fail(f"{label}: {name}: no metadata.name")
        if key in crd_validators:
            for e in crd_validators[key].iter_errors(d):
                fail(f"{label}: {name}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                where = "/".join(map(str, e.path))
                fail(f"{label}: {name} (Kubernetes {version}): {where}: {e.message}")
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
                fail(f"{label}: {name}: no schema for {key} in Kubernetes {version}: {e}")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    ok(f"{label}: {len(docs)} documents against Kubernetes {' and '.join(K8S_VERSIONS)} and the CRD schemas ({summary})")


def check_semantics(label: str, docs: list[dict]) -> None:
    """What a schema cannot say: each channel has its Deployment, PDB and
    ScaledObject; the KEDA triggers name exactly the consumers the fleet config
    creates; grace periods exceed worker.shutdown_timeout; probes, non-root,
    read-only root; no inline Secret; alert expressions name real metrics."""
    by_kind: dict[str, dict[str, dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    fleet_maps = [c for n, c in by_kind.get("ConfigMap", {}).items() if n.startswith("herald-fleet")]
    if len(fleet_maps) != 1:
        fail(f"{label}: expected one herald-fleet ConfigMap, found {len(fleet_maps)}")
        return
    fleet = yaml.safe_load(fleet_maps[0]["data"]["fleet.yaml"])
    worker = fleet.get("worker", {})
    shutdown = duration_seconds(worker.get("shutdown_timeout", "20s"))
    listen = worker.get("metrics_listen", "0.0.0.0:9464")
    port = int(str(listen).rsplit(":", 1)[1])
    for section, key in (("stream", "replicas"), ("dlq", "replicas"), ("receipts", "replicas"),
                         ("status", "replicas"), ("replay", "replicas")):
        if fleet.get(section, {}).get(key) != 3:
            fail(f"{label}: fleet.yaml {section}.{key} is not 3")
    if by_kind.get("Secret"):
        fail(f"{label}: Secret objects are rendered ({', '.join(by_kind['Secret'])}); reference Secrets created out of band")

    for ch in CHANNELS:
        name = f"herald-{ch}"
        dep = by_kind.get("Deployment", {}).get(name)
        pdb = by_kind.get("PodDisruptionBudget", {}).get(name)
        so = by_kind.get("ScaledObject", {}).get(name)
        if not (dep and pdb and so):
            fail(f"{label}: {name}: missing Deployment, PodDisruptionBudget or ScaledObject")
            continue
        pod = dep["spec"]["template"]["spec"]
        c = pod["containers"][0]
        if pod.get("terminationGracePeriodSeconds", 30) <= shutdown:
            fail(f"{label}: {name}: terminationGracePeriodSeconds is not above worker.shutdown_timeout ({shutdown:g}s)")
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            fail(f"{label}: {name}: the liveness probe is not /healthz")
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            fail(f"{label}: {name}: the readiness probe is not /readyz")
        if not any(p.get("containerPort") == port and p.get("name") == "metrics" for p in c.get("ports", [])):
            fail(f"{label}: {name}: no container port `metrics` on {port} (worker.metrics_listen)")
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            fail(f"{label}: {name}: runAsNonRoot is not set")
        if not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
            fail(f"{label}: {name}: the root filesystem is not read-only")
        if not c.get("resources", {}).get("requests") or not c.get("resources", {}).get("limits"):
            fail(f"{label}: {name}: no resource requests and limits")
        for v in pod.get("volumes", []):
            if "secret" in v and v["secret"].get("secretName") != name:
                fail(f"{label}: {name}: mounts another channel's Secret {v['secret'].get('secretName')}")
        if so["spec"]["scaleTargetRef"]["name"] != name:
            fail(f"{label}: ScaledObject {name} does not target Deployment {name}")
        expected = set()
        for dest in fleet.get("destinations", []):
            if dest.get("channel") == ch:
                for pattern in dest["events"]:
                    expected.add(("HERALD_EVENTS", f"herald_{ch}_{dest['name']}_{consumer_token(pattern)}"))
                expected.add(("HERALD_REPLAY", f"herald_{ch}_{dest['name']}_replay"))
        triggers = set()
        for t in so["spec"]["triggers"]:
            if t["type"] != "nats-jetstream":
                continue
            m = t["metadata"]
            triggers.add((m.get("stream"), m.get("consumer")))
            for k in ("natsServerMonitoringEndpoint", "account", "lagThreshold"):
                if k not in m:
                    fail(f"{label}: ScaledObject {name}: a trigger has no {k}")
        for stream, consumer in sorted(expected - triggers):
            fail(f"{label}: ScaledObject {name}: no nats-jetstream trigger for consumer {consumer} on {stream}")
        for stream, consumer in sorted(triggers - expected):
            fail(f"{label}: ScaledObject {name}: trigger for {consumer} on {stream}, which fleet.yaml does not create")
    ok(f"{label}: every channel has a Deployment, PDB and ScaledObject; triggers match the fleet's consumers")

    metric_source = (ROOT / "crates" / "herald-core" / "src" / "metrics" / "mod.rs").read_text()
    known = set(re.findall(r'pub const [A-Z_]+: &str = "(herald_[a-z_]+)"', metric_source))
    if not known:
        fail("no metric names found in crates/herald-core/src/metrics/mod.rs")
    used = set()
    for rule in by_kind.get("PrometheusRule", {}).values():
        for group in rule["spec"]["groups"]:
            for r in group["rules"]:
                used |= set(re.findall(r"\bherald_[a-z_]+", str(r["expr"])))
    for m in sorted(used):
        base = re.sub(r"_(bucket|count|sum)$", "", m)
        if m not in known and base not in known:
            fail(f"{label}: PrometheusRule uses {m}, which the workers do not export")
    ok(f"{label}: alert expressions use exported metrics only ({len(used)} names)")


def check_k8s() -> None:
    print("deploy/k8s against the Kubernetes and CRD schemas")
    targets = [K8S / "base"] + sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
    for target in targets:
        docs, how = render(target)
        label = f"{target.relative_to(K8S)} ({how})"
        if not docs:
            fail(f"{label}: nothing rendered")
            continue
        validate_docs(label, docs)
        check_semantics(label, docs)


def check_schema_files() -> None:
    """The committed CRD schemas are valid JSON Schema (so a broken copy cannot
    silently accept everything)."""
    for f in CRD_SCHEMAS.values():
        jsonschema.Draft7Validator.check_schema(load_crd_schema(f))


def negative_controls() -> None:
    """The validators reject what they should: a typo in a compose service, a
    Deployment field and a ScaledObject field."""
    print("negative controls")
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    bad = {"services": {"x": {"image": "a", "helthcheck": {}}}}
    if not list(jsonschema.validators.validator_for(schema)(schema).iter_errors(bad)):
        fail("the compose schema accepts an unknown service key")
    bad_dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
               "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "x", "imag": "y"}]}}}}
    try:
        kubernetes_validate.validate(bad_dep, K8S_VERSIONS[-1], strict=True)
        fail("kubernetes-validate accepts an unknown container field")
    except kubernetes_validate.ValidationError:
        pass
    so_schema = strict(load_crd_schema(CRD_SCHEMAS[("keda.sh/v1alpha1", "ScaledObject")]))
    bad_so = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"},
              "spec": {"scaleTargetRef": {"name": "x"}, "maxReplicas": 3,
                       "triggers": [{"type": "nats-jetstream", "metadata": {"lagThreshold": 5}}]}}
    if len(list(jsonschema.Draft7Validator(so_schema).iter_errors(bad_so))) < 2:
        fail("the ScaledObject schema accepts an unknown field or a non-string trigger value")
    ok("unknown keys and wrong types are rejected")


def main() -> int:
    check_schema_files()
    negative_controls()
    check_compose()
    check_k8s()
    if problems:
        print(f"\n{len(problems)} problem(s) in the deploy files")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
