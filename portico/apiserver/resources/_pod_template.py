"""Pod spec defaulting and validation shared by Pods, Deployments and ReplicaSets.

`default_pod_spec` applies core/v1's `SetDefaults_PodSpec`, `SetDefaults_Container`,
`SetDefaults_ContainerPort`, `SetDefaults_Probe`, `SetDefaults_HTTPGetAction` and
`SetDefaults_Volume` in place. `validate_pod_spec(spec, path)` reports the common
mistakes with `ValidatePodSpec`'s field paths and wording (containers required,
container names DNS-1123 labels and unique, image required, port ranges and
protocols, restart and DNS policies). `validate_pod_template` adds the template's
labels and annotations (`ValidatePodTemplateSpec`).

The column helpers (`container_names`, `container_images`) are
`layoutContainerCells` from kubectl's printers.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import (
    ErrorType,
    FieldError,
    duplicate,
    invalid,
    required,
)
from portico.apiserver.resources import _base
from portico.apiserver.resources._choices import validate_required_choice
from portico.apiserver.resources._meta import (
    is_dns1123_label,
    is_env_var_name,
    is_valid_port_name,
    is_valid_port_num,
    validate_annotations,
    validate_labels,
    validate_nonnegative,
)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def image_pull_policy(image: str) -> str:
    """`Always` for `:latest` or untagged images (without a digest), else `IfNotPresent`."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_http_get(handler: Any) -> None:
    if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
        http = handler["httpGet"]
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    _default_http_get(probe)


def default_container(ctr: _base.Object, host_network: bool = False) -> None:
    """`SetDefaults_Container` plus its ports, probes, lifecycle hooks and env."""
    if not ctr.get("imagePullPolicy"):
        image = str(ctr.get("image") or "")
        ctr["imagePullPolicy"] = image_pull_policy(image) if image else "IfNotPresent"
    ctr.setdefault("terminationMessagePath", "/dev/termination-log")
    ctr.setdefault("terminationMessagePolicy", "File")
    ctr.setdefault("resources", {})
    for port in ctr.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if host_network and not port.get("hostPort"):
            port["hostPort"] = port.get("containerPort")
    for name in _PROBES:
        _default_probe(ctr.get(name))
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            _default_http_get(lifecycle.get(hook))
    for env in ctr.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    limits = (ctr.get("resources") or {}).get("limits")
    if limits:
        requests = ctr["resources"].setdefault("requests", {})
        for resource, quantity in limits.items():
            requests.setdefault(resource, quantity)


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "secret", "configMap", "persistentVolumeClaim", "projected",
    "downwardAPI", "nfs", "csi", "ephemeral", "image", "iscsi", "glusterfs", "rbd",
)


def default_volume(volume: _base.Object) -> None:
    """`SetDefaults_Volume` and the per-source defaults (`defaultMode: 420`)."""
    if not any(key in volume for key in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for key in ("secret", "configMap", "projected", "downwardAPI"):
        if isinstance(volume.get(key), dict):
            volume[key].setdefault("defaultMode", 420)
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")


def default_pod_spec(spec: _base.Object) -> None:
    """`SetDefaults_PodSpec` and everything below it, in place."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    host_network = bool(spec.get("hostNetwork"))
    for key in ("containers", "initContainers"):
        for ctr in spec.get(key) or []:
            if isinstance(ctr, dict):
                default_container(ctr, host_network)
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            default_volume(volume)


def default_pod_template(template: _base.Object | None) -> None:
    if isinstance(template, dict):
        default_pod_spec(template.setdefault("spec", {}))


def _validate_ports(ports: list[Any], path: str) -> list[FieldError]:
    """`validateContainerPorts`."""
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        at = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = is_valid_port_name(name)
            errs.extend(invalid(f"{at}.name", name, m) for m in msgs)
            if not msgs and name in names:
                errs.append(duplicate(f"{at}.name", name))
            names.add(name)
        container_port = port.get("containerPort") or 0
        if container_port == 0:
            errs.append(required(f"{at}.containerPort"))
        else:
            msgs = is_valid_port_num(container_port)
            errs.extend(invalid(f"{at}.containerPort", container_port, m) for m in msgs)
        host_port = port.get("hostPort") or 0
        if host_port:
            msgs = is_valid_port_num(host_port)
            errs.extend(invalid(f"{at}.hostPort", host_port, m) for m in msgs)
        protocol = port.get("protocol") or ""
        errs.extend(validate_required_choice(protocol, f"{at}.protocol", PORT_PROTOCOLS))
    return errs


def _validate_env(env: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, var in enumerate(env):
        name = var.get("name") or ""
        if not name:
            errs.append(required(f"{path}[{i}].name"))
        else:
            errs.extend(invalid(f"{path}[{i}].name", name, m) for m in is_env_var_name(name))
    return errs


_CONTAINER_POLICIES = (
    ("terminationMessagePolicy", MESSAGE_POLICIES), ("imagePullPolicy", PULL_POLICIES),
)
_POD_POLICIES = (("restartPolicy", RESTART_POLICIES), ("dnsPolicy", DNS_POLICIES))


def _validate_policies(obj: _base.Object, path: str,
                       policies: tuple[tuple[str, tuple[str, ...]], ...]) -> list[FieldError]:
    """Each required policy field of `obj`, one of its supported values."""
    return [err for field, supported in policies
            for err in validate_required_choice(obj.get(field), f"{path}.{field}", supported)]


def validate_container(ctr: _base.Object, path: str, names: set[str]) -> list[FieldError]:
    """One container: name, image, ports, env, pull and termination message policies."""
    errs: list[FieldError] = []
    name = ctr.get("name") or ""
    if not name:
        errs.append(required(f"{path}.name"))
    else:
        errs.extend(invalid(f"{path}.name", name, m) for m in is_dns1123_label(name))
    if name and name in names:
        errs.append(duplicate(f"{path}.name", name))
    names.add(name)
    image = ctr.get("image") or ""
    if not image:
        errs.append(required(f"{path}.image"))
    elif image.strip() != image:
        errs.append(invalid(f"{path}.image", image, "must not have leading or trailing whitespace"))
    errs.extend(_validate_ports(ctr.get("ports") or [], f"{path}.ports"))
    errs.extend(_validate_env(ctr.get("env") or [], f"{path}.env"))
    errs.extend(_validate_policies(ctr, path, _CONTAINER_POLICIES))
    return errs


def _validate_volumes(volumes: list[Any], path: str) -> tuple[list[FieldError], set[str]]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, volume in enumerate(volumes):
        name = volume.get("name") or ""
        at = f"{path}[{i}].name"
        if not name:
            errs.append(required(at))
        else:
            errs.extend(invalid(at, name, m) for m in is_dns1123_label(name))
            if name in names:
                errs.append(duplicate(at, name))
        names.add(name)
    return errs, names


def _validate_mounts(ctr: _base.Object, path: str, volumes: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, mount in enumerate(ctr.get("volumeMounts") or []):
        name = mount.get("name") or ""
        at = f"{path}.volumeMounts[{i}]"
        if not name:
            errs.append(required(f"{at}.name"))
        elif name not in volumes:
            errs.append(FieldError(ErrorType.NOT_FOUND, f"{at}.name", name))
        if not mount.get("mountPath"):
            errs.append(required(f"{at}.mountPath"))
    return errs


def validate_pod_spec(spec: _base.Object, path: str) -> list[FieldError]:
    """`ValidatePodSpec` at `path` (e.g. `spec` or `spec.template.spec`)."""
    errs, volume_names = _validate_volumes(spec.get("volumes") or [], f"{path}.volumes")
    containers = spec.get("containers") or []
    names: set[str] = set()
    if not containers:
        errs.append(required(f"{path}.containers"))
    for i, ctr in enumerate(containers):
        errs.extend(validate_container(ctr, f"{path}.containers[{i}]", names))
        errs.extend(_validate_mounts(ctr, f"{path}.containers[{i}]", volume_names))
    for i, ctr in enumerate(spec.get("initContainers") or []):
        errs.extend(validate_container(ctr, f"{path}.initContainers[{i}]", names))
    errs.extend(_validate_policies(spec, path, _POD_POLICIES))
    errs.extend(validate_nonnegative(
        spec.get("terminationGracePeriodSeconds"), f"{path}.terminationGracePeriodSeconds"
    ))
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        errs.append(invalid(
            f"{path}.activeDeadlineSeconds", deadline,
            "must be between 1 and 2147483647, inclusive",
        ))
    return errs


def validate_pod_template(template: _base.Object | None, path: str) -> list[FieldError]:
    """`ValidatePodTemplateSpec`: template labels and annotations, then the pod spec."""
    if not isinstance(template, dict):
        return [required(path)]
    meta = template.get("metadata") or {}
    errs = validate_labels(meta.get("labels"), f"{path}.metadata.labels")
    errs.extend(validate_annotations(meta.get("annotations"), f"{path}.metadata.annotations"))
    errs.extend(validate_pod_spec(template.get("spec") or {}, f"{path}.spec"))
    return errs


def container_names(spec: _base.Object) -> str:
    return ",".join(str(c.get("name", "")) for c in spec.get("containers") or [])


def container_images(spec: _base.Object) -> str:
    return ",".join(str(c.get("image", "")) for c in spec.get("containers") or [])
