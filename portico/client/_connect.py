"""A lightkube client whose HTTP connection pool keeps its connections.

httpx's defaults keep at most 20 idle connections, for 5 s.  A controller process
holds a dozen watches and bursts dozens of concurrent requests (bindings, events,
status writes); every connection above 20 was closed after its request and the next
burst paid a new TLS handshake each, which was a seventh of the API server's CPU
in a burst of pods.  Here idle connections are kept (up to `KEEPALIVE`, for a
minute); TLS is set up exactly as lightkube does it for the kubeconfig.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx2
from lightkube import AsyncClient, ConfigError, KubeConfig
from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import SingleConfig

from portico.client._transport import Transport

KEEPALIVE = 64
KEEPALIVE_SECONDS = 60.0


def _current(config: KubeConfig) -> SingleConfig:
    single = config.get()
    if single is None:
        raise ValueError("the kubeconfig has no current context")
    return single


class KubeconfigError(ValueError):
    """No usable configuration: the file is missing (not written yet) or unreadable."""


def load_kubeconfig(kubeconfig: Path | str | None = None,
                    serviceaccount_dir: Path | str | None = None) -> KubeConfig:
    """A kubeconfig file's configuration, or a pod's service-account credentials
    (token, CA and namespace in `serviceaccount_dir`) when no file is given; raises
    `KubeconfigError` when there is none to be had."""
    try:
        if kubeconfig is not None:
            return KubeConfig.from_file(str(kubeconfig))
        if serviceaccount_dir is None:
            raise KubeconfigError("a kubeconfig file or a service-account directory is needed")
        return KubeConfig.from_service_account(str(serviceaccount_dir))
    except ConfigError as error:
        raise KubeconfigError(str(error)) from error


def api_client(kubeconfig: Path | str | KubeConfig,
               field_manager: str) -> tuple[AsyncClient, Transport]:
    """An AsyncClient for the kubeconfig's current context, with a roomy pool, and the
    `Transport` for the same server and credentials."""
    config = kubeconfig if isinstance(kubeconfig, KubeConfig) else load_kubeconfig(kubeconfig)
    single = _current(config)
    assert single.user is not None, "the kubeconfig has no user"
    tls = verify_cluster(single.cluster, single.user, single.abs_file)
    transport = httpx2.AsyncHTTPTransport(
        verify=tls, limits=httpx2.Limits(max_connections=None,
                                         max_keepalive_connections=KEEPALIVE,
                                         keepalive_expiry=KEEPALIVE_SECONDS))
    return (AsyncClient(config=config, field_manager=field_manager, transport=transport),
            Transport(single, tls, field_manager))


def kubeconfig_ca(kubeconfig: Path | str) -> str:
    """The PEM of the cluster CA a kubeconfig trusts (for the root CA publisher)."""
    cluster = _current(KubeConfig.from_file(str(kubeconfig))).cluster
    if cluster.certificate_auth_data:
        return base64.b64decode(cluster.certificate_auth_data).decode()
    return Path(cluster.certificate_auth or "").read_text() if cluster.certificate_auth else ""
