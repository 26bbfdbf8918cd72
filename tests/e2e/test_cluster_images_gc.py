"""kubelet's image garbage collection by disk usage, for real: a cluster whose high
threshold is 1 % (the machine's disk is always over it) collects every unused
pulled image once it is older than the minimum age, keeps the image a running pod
uses and the image `portico image load` pinned, and reports on the Node that it
could not get down to the low threshold (0 %)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from portico.oci import ImageStore
from portico.testing.oci_images import build_layout, push, start_registry
from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl, new_namespace
from tests.e2e.cluster_support import dump, pod, running_cluster

pytestmark = pytest.mark.e2e
PORT = 5000
RUNNING, FINISHED = f"127.0.0.1:{PORT}/gc/running:1.0", f"127.0.0.1:{PORT}/gc/finished:1.0"
LOADED = "portico.test/gc-loaded:1.0"
GC_ARGS = ("--image-gc-high-threshold", "1", "--image-gc-low-threshold", "0",
           "--image-minimum-gc-age", "3")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    for running in running_cluster(nodes=1, env={"PORTICO_IMAGE_GC_PERIOD_SECONDS": "1"},
                                   extra_args=GC_ARGS):
        root = running.workdir / "registry"
        root.mkdir()
        start_registry(running.sandbox, root, PORT, None)
        layout = root / "oci"
        for tag, ref in (("running", RUNNING), ("finished", FINISHED)):
            build_layout(layout, tag, {"Env": ["PATH=/bin"]}, extra={"tag": tag.encode()})
            push(running.sandbox, layout, tag, ref)
        build_layout(layout, "loaded", {"Env": ["PATH=/bin"]}, extra={"tag": b"loaded"})
        subprocess.run(["skopeo", "copy", "--quiet", f"oci:{layout}:loaded",
                        f"docker-archive:{root / 'loaded.tar'}:{LOADED}"], check=True,
                       timeout=60)
        yield running


def test_unused_pulled_images_are_collected_used_and_loaded_ones_kept(cluster: Cluster) -> None:
    k = Kubectl(cluster, "1.33", new_namespace(cluster))
    loaded = subprocess.run([str(cluster.portico), "image", "load", str(
        cluster.workdir / "registry" / "loaded.tar"), "--data-dir", str(cluster.data_dir)],
        capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    k.ok("apply", "-f", "-", input="\n---\n".join(dump(pod(name, {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "c", "image": image, "args": ["sleep", seconds]}]}))
        for name, image, seconds in (("running", RUNNING, "600"), ("finished", FINISHED, "0"))))
    k.ok("wait", "--for=condition=Ready", "pod/running", "--timeout=60s")
    k.ok("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/finished", "--timeout=60s")
    store = ImageStore(cluster.data_dir / "images")
    wait_for(lambda: store.lookup(FINISHED) is None, 30, interval=0.5,
             message="the finished pod's image collected")
    assert store.lookup(RUNNING, "node-1") is not None  # a container runs on it
    assert store.lookup(LOADED, "node-1") is not None  # pinned

    def node_events() -> dict[str, str]:
        listed = json.loads(k.ok("get", "events", "-n", "default", "-o", "json",
                                 "--field-selector", "involvedObject.kind=Node"))
        return {e["reason"]: e["message"] for e in listed["items"]}

    events = wait_for(lambda: (e := node_events()).get("ImageGCFailed") and e, 30,
                      interval=0.5, message="a repeated failure is ImageGCFailed")
    assert events["FreeDiskSpaceFailed"].startswith(
        "Failed to garbage collect required amount of images. Attempted to free "), events
    assert events["ImageGCFailed"].endswith(" bytes eligible to free."), events
    k.ok("delete", "pod", "running", "finished")
