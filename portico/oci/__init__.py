"""Real OCI images: pulled with skopeo into a store shared by the cluster's nodes,
each layer unpacked once (GNU tar, as it arrives), each container run by crun on an
overlayfs root of its image's layers inside its pod's network namespace.

- `_reference` normalization is `portico.images._reference` (containerd's);
- `_registries`: k3s's registries.yaml (mirrors, TLS, auth) and pull-secret keyring;
- `_pull`: skopeo inspect/copy into the store, containerd's error texts;
- `_store`: the shared content store (layout, refs, unpacked layers, lock);
- `_layers`: a layer unpacked into its own directory, streamed while skopeo writes it;
- `_gc`: what no tagged image uses is removed (leases keep the layers in use);
- `_disk_gc`: kubelet's image garbage collection by disk usage (per node);
- `_archive`: `portico image load` of docker-save and OCI archives;
- `_spec`: config.json as Kubernetes merges image config and pod spec;
- `_container`: a container's bundle, cgroups, start under crun, kill/exec, clean-up.
The agent's side (pull policy, events, status) is `portico.agent._oci`.
"""

from portico.oci._container import OciContainer, lookup, register, unregister
from portico.oci._disk_gc import ImageGcPolicy
from portico.oci._pull import Pulled, Puller, PullError, full_ref
from portico.oci._registries import Registries
from portico.oci._spec import BindMount, SpecError
from portico.oci._store import ImageStore, StoredImage, StoreError

__all__ = ["BindMount", "ImageGcPolicy", "ImageStore", "OciContainer", "PullError", "Pulled",
           "Puller", "Registries", "SpecError", "StoreError", "StoredImage", "full_ref", "lookup",
           "register", "unregister"]
