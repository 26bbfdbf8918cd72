"""kubelet's events: its reasons (pkg/kubelet/events) and its message texts.

The agent records them through the shared client-go-like recorder
(`portico.client.EventRecorder`, component `kubelet`, host and reportingInstance
the node's name), so repeats become `count` bumps and look on `kubectl describe
pod` as they do on AKS.  Container events refer to the container by the
reference's `fieldPath` (`spec.containers{web}`, `spec.initContainers{init}`), as
kubelet's `GenerateContainerRef` does; pod events (sandbox, DNS) have none.

The image events tell what ran, since Portico pulls nothing: with
`imagePullPolicy` IfNotPresent or Never kubelet's own "Container image ... already
present on machine"; with Always a `Pulling` event, then a `Pulled` one saying where
the image's program comes from (built in, the user's mappings, or the machine).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from portico.images import BUILTIN, Mappings, parse

Object = dict[str, Any]


class Reason(StrEnum):
    CREATED = "Created"
    STARTED = "Started"
    FAILED = "Failed"
    KILLING = "Killing"
    BACK_OFF = "BackOff"
    PULLING = "Pulling"
    PULLED = "Pulled"
    INSPECT_FAILED = "InspectFailed"
    ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
    UNHEALTHY = "Unhealthy"
    FAILED_CREATE_POD_SANDBOX = "FailedCreatePodSandBox"
    DNS_CONFIG_FORMING = "DNSConfigForming"


class ImageSource(StrEnum):
    """Where the program for an image comes from."""
    BUILT_IN = "built-in"
    MAPPED = "mapped"
    MACHINE = "machine"


def image_source(image: str, mappings: Mappings) -> ImageSource:
    """Where the program for `image` (a reference that parses) comes from."""
    ref = parse(image)
    if mappings.lookup(ref) is not None:
        return ImageSource.MAPPED
    return ImageSource.BUILT_IN if ref.name in BUILTIN else ImageSource.MACHINE


def format_pod(pod: Object) -> str:
    """kubelet's `format.Pod`: name_namespace(uid)."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


def field_path(container: str, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{container}}}"


def created(container: str) -> str:
    return f"Created container: {container}"


def started(container: str) -> str:
    return f"Started container {container}"


def stopping(container: str) -> str:
    return f"Stopping container {container}"


def probe_kill(container: str, probe_type: str) -> str:
    return f"Container {container} failed {probe_type} probe, will be restarted"


def unhealthy(probe_type: str, output: str) -> str:
    return f"{probe_type.capitalize()} probe failed: {output}"


def back_off(container: str, pod: Object) -> str:
    return f"Back-off restarting failed container {container} in pod {format_pod(pod)}"


def error(message: str) -> str:
    return f"Error: {message}"


def pulling(image: str) -> str:
    return f'Pulling image "{image}"'


def already_present(image: str) -> str:
    return f'Container image "{image}" already present on machine'


def nothing_pulled(image: str, source: ImageSource, hint: str) -> str:
    if source is ImageSource.BUILT_IN:
        return f'Container image "{image}" is built into portico: nothing to pull'
    if source is ImageSource.MAPPED:
        return f'Container image "{image}" is mapped in {hint}: nothing to pull'
    return (f'Container image "{image}" is not built in: its command runs with this '
            "machine's programs, nothing to pull")


def pull_failed(image: str, message: str) -> str:
    return f'Failed to pull image "{image}": {message}'


def pull_back_off(image: str) -> str:
    return f'Back-off pulling image "{image}"'


def never_pull(image: str) -> str:
    return f'Container image "{image}" is not present with pull policy of Never'


def sandbox_failed(message: str) -> str:
    return f"Failed to create pod sandbox: {message}"
