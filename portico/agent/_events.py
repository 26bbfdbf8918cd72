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

from portico.images import BUILTIN, MappingSource, parse

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
    FAILED_MOUNT = "FailedMount"
    DNS_CONFIG_FORMING = "DNSConfigForming"
    FAILED_PRE_STOP_HOOK = "FailedPreStopHook"


class ImageSource(StrEnum):
    """Where the program for an image comes from."""
    BUILT_IN = "built-in"
    MAPPED = "mapped"
    MACHINE = "machine"


def image_source(image: str, mappings: MappingSource) -> ImageSource:
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


# kubelet's message texts, filled in with str.format
CREATED = "Created container: {container}"
STARTED = "Started container {container}"
STOPPING = "Stopping container {container}"
PROBE_KILL = "Container {container} failed {probe} probe, will be restarted"
BACK_OFF = "Back-off restarting failed container {container} in pod {pod}"
ERROR = "Error: {message}"
PULLING = 'Pulling image "{image}"'
ALREADY_PRESENT = 'Container image "{image}" already present on machine'
PULL_FAILED = 'Failed to pull image "{image}": {message}'
PULL_BACK_OFF = 'Back-off pulling image "{image}"'
NEVER_PULL = 'Container image "{image}" is not present with pull policy of Never'
SANDBOX_FAILED = "Failed to create pod sandbox: {message}"
PRE_STOP_HOOK_FAILED = "PreStopHook failed"
NOTHING_PULLED = {
    ImageSource.BUILT_IN: 'Container image "{image}" is built into portico: nothing to pull',
    ImageSource.MAPPED: 'Container image "{image}" is mapped in {hint}: nothing to pull',
    ImageSource.MACHINE: ('Container image "{image}" is not built in: its command runs with '
                          "this machine's programs, nothing to pull"),
}


def unhealthy(probe_type: str, output: str) -> str:
    return f"{probe_type.capitalize()} probe failed: {output}"
