"""`portico kubeconfig USER --group G ...`: a kubeconfig for a user, signed by the cluster CA.

As AKS's local accounts and kubeadm's `kubeconfig user --client-name`: a client
certificate with CN = the user and one O per group, issued by the cluster's CA
(in the data dir), for the same server and CA as the admin kubeconfig. What the
user may do is up to RBAC (the admin kubeconfig's user is in `system:masters`).
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import yaml

from portico.apiserver.certs import load_pki, user_credentials


def user_kubeconfig(data_dir: Path, cluster: str, user: str, groups: tuple[str, ...],
                    days: int) -> str:
    admin = yaml.safe_load((data_dir / "kubeconfig").read_text())
    server = admin["clusters"][0]["cluster"]
    cert, key = user_credentials(load_pki(data_dir / "pki"), user, groups,
                                 datetime.timedelta(days=days))
    context = f"{user}@{cluster}"
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster, "cluster": server}],
        "users": [{"name": user, "user": {
            "client-certificate-data": base64.b64encode(cert).decode(),
            "client-key-data": base64.b64encode(key).decode()}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
    }, sort_keys=False)
