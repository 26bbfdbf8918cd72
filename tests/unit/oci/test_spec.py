"""config.json as Kubernetes merges the image config with the pod spec (pure)."""

from __future__ import annotations

import pytest

from portico.oci import _spec
from portico.oci._spec import (
    DEFAULT_PATH,
    ImageUser,
    SpecError,
    check_run_as_non_root,
    cpu_resources,
    merged_argv,
    merged_env,
    resolve_user,
    security_context,
)

IMAGE = {"Entrypoint": ["/entry"], "Cmd": ["--default"]}
PASSWD = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\nextra:x:2000:app,other\n"


@pytest.mark.parametrize(("command", "args", "expected"), [
    (None, None, ["/entry", "--default"]),
    (["/cmd"], None, ["/cmd"]),
    (None, ["a"], ["/entry", "a"]),
    (["/cmd"], ["a"], ["/cmd", "a"]),
])
def test_command_and_args_over_entrypoint_and_cmd(command: list[str] | None,
                                                   args: list[str] | None,
                                                   expected: list[str]) -> None:
    assert merged_argv(command, args, IMAGE) == expected


def test_an_empty_entrypoint_counts_as_none_and_nothing_is_no_command() -> None:
    assert merged_argv(None, None, {"Entrypoint": [""], "Cmd": ["sh"]}) == ["sh"]
    with pytest.raises(SpecError, match="no command specified"):
        merged_argv(None, None, {"Entrypoint": [""]})


def test_env_later_wins_by_key() -> None:
    env = merged_env({"Env": ["PATH=/bin", "A=image", "B=image"]}, "web", {"B": "pod"})
    assert env == ["PATH=/bin", "HOSTNAME=web", "A=image", "B=pod"]
    assert merged_env({}, "h", {})[0] == DEFAULT_PATH


def test_user_names_come_from_the_image_and_pod_ids_win() -> None:
    assert resolve_user("app", PASSWD, GROUP, None, None) == ImageUser(1000, 1000, (2000,))
    assert resolve_user("1000:0", PASSWD, GROUP, None, None) == ImageUser(1000, 0, (2000,))
    assert resolve_user("", PASSWD, GROUP, None, None) == ImageUser(0, 0)
    assert resolve_user("app", PASSWD, GROUP, 5, 6) == ImageUser(5, 6)
    with pytest.raises(SpecError, match="unable to find user nobody"):
        resolve_user("nobody", PASSWD, GROUP, None, None)


def test_run_as_non_root_messages_are_kubelets() -> None:
    where = '(pod: "p_ns(uid)", container: c)'
    with pytest.raises(SpecError) as root:
        check_run_as_non_root({"runAsNonRoot": True}, "", "p_ns(uid)", "c")
    assert root.value.message == f"container has runAsNonRoot and image will run as root {where}"
    assert root.value.reason == "CreateContainerConfigError"
    with pytest.raises(SpecError) as named:
        check_run_as_non_root({"runAsNonRoot": True}, "app", "p_ns(uid)", "c")
    assert named.value.message == ("container has runAsNonRoot and image has non-numeric user "
                                   f"(app), cannot verify user is non-root {where}")
    with pytest.raises(SpecError, match="container's runAsUser breaks non-root policy"):
        check_run_as_non_root({"runAsNonRoot": True, "runAsUser": 0}, "1000", "p_ns(uid)", "c")
    check_run_as_non_root({"runAsNonRoot": True}, "1000:1000", "p", "c")
    check_run_as_non_root({"runAsNonRoot": True, "runAsUser": 7}, "root", "p", "c")


def test_the_container_security_context_wins_over_the_pods() -> None:
    merged = security_context({"securityContext": {"runAsUser": 1, "runAsNonRoot": True,
                                                   "fsGroup": 3}},
                              {"securityContext": {"runAsUser": 2}})
    assert merged == {"runAsUser": 2, "runAsNonRoot": True}


def test_cpu_requests_are_shares_and_limits_a_quota() -> None:
    assert cpu_resources({"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}}) == {
        "shares": 256, "quota": 100000, "period": 100000}
    assert cpu_resources({"limits": {"cpu": "500m"}}) == {
        "shares": 512, "quota": 50000, "period": 100000}
    assert cpu_resources({"requests": {"cpu": "1m"}}) == {"shares": 2}
    assert cpu_resources({}) == {}


def test_a_container_makes_its_namespaces_with_the_hostname_until_it_joins_a_peers() -> None:
    config = {"hostname": "web-0", "linux": {"namespaces": _spec.namespaces({})}}
    assert config["linux"]["namespaces"] == [
        {"type": "mount"}, {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}]
    _spec.join(config, {"ipc": "/proc/7/ns/ipc", "uts": "/proc/7/ns/uts"})
    assert config == {"linux": {"namespaces": [
        {"type": "mount"}, {"type": "pid"}, {"type": "ipc", "path": "/proc/7/ns/ipc"},
        {"type": "uts", "path": "/proc/7/ns/uts"}]}}
