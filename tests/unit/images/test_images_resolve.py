"""resolve(): image x command x args -> argv, env, or the kubelet-style error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from portico.images import (
    ImageError,
    ImageErrorReason,
    Mappings,
    MappingsError,
    expand,
    load_mappings,
    normalize,
    parse_mappings,
    resolve,
)
from portico.images._catalog import PROJECT_ROOT

PY = sys.executable
AGNHOST = [PY, "-m", "portico.images.agnhost"]
NGINX = [PY, "-m", "portico.images.nginx"]
PAUSE = [PY, "-m", "portico.images.pause"]
WGET = [PY, "-m", "portico.images.wget"]
CURL_ENTRYPOINT = ["/bin/sh", "-c", 'case "$1" in -*) set -- curl "$@";; esac; exec "$@"']
HOST_TOOLS = {"sh", "bash", "/bin/sh", "/bin/bash", "curl", "echo", "python3"}


def fake_which(name: str, path: str) -> str | None:
    """A machine with a shell and curl but without wget or nslookup."""
    return f"/usr/bin/{name.rsplit('/', 1)[-1]}" if name in HOST_TOOLS else None


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param("nginx", "docker.io/library/nginx", id="official"),
        pytest.param("nginx:1.27-alpine", "docker.io/library/nginx", id="tag"),
        pytest.param("library/nginx", "docker.io/library/nginx", id="library"),
        pytest.param("docker.io/library/nginx:latest", "docker.io/library/nginx", id="hub"),
        pytest.param("index.docker.io/library/nginx", "docker.io/library/nginx", id="index"),
        pytest.param("nginx@sha256:" + "a" * 64, "docker.io/library/nginx", id="digest"),
        pytest.param("curlimages/curl:8.1.0", "docker.io/curlimages/curl", id="user-repo"),
        pytest.param(
            "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "registry.k8s.io/e2e-test-images/agnhost",
            id="registry",
        ),
        pytest.param("localhost:5000/app:v1", "localhost:5000/app", id="registry-port"),
        pytest.param("localhost/app", "localhost/app", id="localhost"),
    ],
)
def test_normalize(image: str, expected: str) -> None:
    assert normalize(image) == expected


CASES = [
    # (id, image, command, args, argv)
    ("pause", "registry.k8s.io/pause:3.10", None, None, PAUSE),
    ("pause-gcr", "k8s.gcr.io/pause", None, None, PAUSE),
    ("agnhost-default-cmd", "registry.k8s.io/e2e-test-images/agnhost:2.53", None, None,
     [*AGNHOST, "pause"]),
    ("agnhost-args", "registry.k8s.io/e2e-test-images/agnhost:2.53", None,
     ["netexec", "--http-port=8080"], [*AGNHOST, "netexec", "--http-port=8080"]),
    ("agnhost-command-path", "registry.k8s.io/e2e-test-images/agnhost:2.53",
     ["/agnhost", "serve-hostname"], ["--port", "9376"],
     [*AGNHOST, "serve-hostname", "--port", "9376"]),
    ("agnhost-shell-command", "registry.k8s.io/e2e-test-images/agnhost:2.53",
     ["/bin/sh", "-c", "echo hi"], None, ["/bin/sh", "-c", "echo hi"]),
    ("portico-agnhost", "portico/agnhost", None, ["netexec"], [*AGNHOST, "netexec"]),
    ("nginx", "nginx", None, None, [*NGINX, "-g", "daemon off;"]),
    ("nginx-alpine", "nginx:alpine", None, None, [*NGINX, "-g", "daemon off;"]),
    ("nginx-command", "nginx", ["nginx", "-g", "daemon off;"], None,
     [*NGINX, "-g", "daemon off;"]),
    ("nginx-entrypoint-script", "nginx", ["/docker-entrypoint.sh", "nginx"], ["-g", "daemon off;"],
     [*NGINX, "-g", "daemon off;"]),
    ("nginx-args-only", "nginx", None, ["nginx", "-T"], [*NGINX, "-T"]),
    ("busybox-default", "busybox", None, None, ["sh"]),
    ("busybox-args", "busybox:1.36", None, ["wget", "-qO-", "http://web"],
     [*WGET, "-qO-", "http://web"]),
    ("busybox-command", "busybox", ["sh", "-c"], ["sleep 1"], ["sh", "-c", "sleep 1"]),
    ("busybox-nslookup", "busybox", None, ["nslookup", "web"],
     [PY, "-m", "portico.images.nslookup", "web"]),
    ("alpine-wget-path", "alpine", ["/usr/bin/wget", "-q", "x"], None, [*WGET, "-q", "x"]),
    ("alpine", "alpine:3.20", None, None, ["/bin/sh"]),
    ("debian", "debian:bookworm", None, None, ["bash"]),
    ("ubuntu", "ubuntu", None, None, ["/bin/bash"]),
    ("curl-flags", "curlimages/curl", None, ["-s", "http://web"],
     [*CURL_ENTRYPOINT, "curl-entrypoint", "-s", "http://web"]),
    ("curl-default", "curlimages/curl", None, None, [*CURL_ENTRYPOINT, "curl-entrypoint", "curl"]),
    ("unknown-with-command", "example.com/team/app:1", ["/usr/bin/env"], ["A=1"],
     ["/usr/bin/env", "A=1"]),
    ("unknown-wget", "example.com/app", ["wget", "-qO-", "x"], None, [*WGET, "-qO-", "x"]),
    ("empty-command-is-unset", "busybox", [], ["echo", "x"], ["echo", "x"]),
    ("coredns", "portico/coredns:0.1", None, None, [PY, "-m", "portico.dns"]),
    ("ingress", "docker.io/portico/ingress-controller", None, ["--x"],
     [PY, "-m", "portico.ingress", "--x"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("image", "command", "args", "argv"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_resolve_argv(
    image: str, command: list[str] | None, args: list[str] | None, argv: list[str]
) -> None:
    assert resolve(image, command, args, Mappings(), which=fake_which).argv == argv


def test_resolve_env_and_working_dir() -> None:
    resolved = resolve("nginx", None, None, Mappings(), which=fake_which)
    assert resolved.env == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": PROJECT_ROOT,
        "PYTHONUNBUFFERED": "1",
    }
    assert resolved.working_dir is None


def test_wget_present_on_the_machine_runs_it() -> None:
    resolved = resolve("alpine", None, ["wget", "x"], Mappings(), which=lambda n, p: "/bin/" + n)
    assert resolved.argv == ["wget", "x"]


def with_busybox(name: str, path: str) -> str | None:
    """A machine with Debian's busybox-static (and the tools of `fake_which`)."""
    return name if name == "/bin/busybox" else fake_which(name, path)


BB = "/bin/busybox"


@pytest.mark.parametrize(("command", "args", "argv"), [
    pytest.param(None, None, [BB, "sh"], id="cmd-sh"),
    pytest.param(["sh", "-c"], ["nc -z web 80"], [BB, "sh", "-c", "nc -z web 80"], id="sh"),
    pytest.param(["/bin/sh", "-c", "x"], None, [BB, "sh", "-c", "x"], id="bin-sh"),
    pytest.param(None, ["nc", "-z", "web", "80"], [BB, "nc", "-z", "web", "80"], id="nc"),
    pytest.param(["nslookup", "web"], None, [BB, "nslookup", "web"], id="nslookup"),
    pytest.param(["wget", "-qO-", "http://web"], None, [BB, "wget", "-qO-", "http://web"],
                 id="wget"),
    pytest.param(["busybox", "nc", "-h"], None, [BB, "nc", "-h"], id="busybox-itself"),
    pytest.param(["curl", "-s", "http://web"], None, ["curl", "-s", "http://web"],
                 id="not-an-applet"),
    pytest.param(["/opt/tools/nc"], None, ["/opt/tools/nc"], id="applet-name-elsewhere"),
])
def test_busybox_runs_its_applets(command: list[str] | None, args: list[str] | None,
                                  argv: list[str]) -> None:
    resolved = resolve("busybox:1.36", command, args, Mappings(), which=with_busybox)
    assert resolved.argv == argv


def test_other_base_images_keep_the_machines_tools() -> None:
    resolved = resolve("debian", ["sh", "-c", "nc -z web 80"], None, Mappings(),
                       which=with_busybox)
    assert resolved.argv == ["sh", "-c", "nc -z web 80"]


ERRORS = [
    ("unknown", "example.com/app:1", None, None, ImageErrorReason.ERR_IMAGE_PULL,
     'image "example.com/app:1" is not built into portico, so what it runs is unknown; set the '
     "container's command (not only args) to run a program of this machine, or map the image "
     "in ~/.config/portico/images.yaml (or the file named by $PORTICO_IMAGES)"),
    ("unknown-args-only", "myapp", None, ["--port=1"], ImageErrorReason.ERR_IMAGE_PULL, None),
    ("upper-case", "Nginx", None, None, ImageErrorReason.INVALID_IMAGE_NAME,
     'Failed to apply default image tag "Nginx": couldn\'t parse image name "Nginx": invalid '
     "repository name component 'Nginx' (lower case letters, digits and separators . _ __ - "
     "only)"),
    ("empty", "", ["sh"], None, ImageErrorReason.INVALID_IMAGE_NAME, None),
    ("bad-tag", "nginx:-x", None, None, ImageErrorReason.INVALID_IMAGE_NAME, None),
    ("bad-digest", "nginx@sha256:xyz", None, None, ImageErrorReason.INVALID_IMAGE_NAME, None),
    ("empty-component", "a//b", None, None, ImageErrorReason.INVALID_IMAGE_NAME, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("image", "command", "args", "reason", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in ERRORS],
)
def test_resolve_errors(
    image: str,
    command: list[str] | None,
    args: list[str] | None,
    reason: ImageErrorReason,
    message: str | None,
) -> None:
    with pytest.raises(ImageError) as raised:
        resolve(image, command, args, Mappings(), which=fake_which)
    assert raised.value.reason == reason
    if message is not None:
        assert raised.value.message == message


def test_no_command_specified() -> None:
    mappings = parse_mappings({"images": {"empty/app": {}}})
    with pytest.raises(ImageError) as raised:
        resolve("empty/app", None, None, mappings, which=fake_which)
    assert raised.value.reason == ImageErrorReason.CREATE_CONTAINER_ERROR


MAPPINGS = {
    "images": {
        "myrepo/app": {"command": ["/usr/bin/python3", "-m", "http.server"], "args": ["8000"],
                       "env": {"GREETING": "hello"}, "workingDir": "/srv"},
        "myrepo/app:2": {"command": ["/opt/app2"]},
        "myrepo/web": {"image": "nginx:alpine", "env": {"X": "1"}},
        "nginx": {"command": ["/usr/local/bin/my-nginx"]},
    }
}  # fmt: skip


@pytest.mark.parametrize(
    ("image", "command", "args", "argv", "working_dir"),
    [
        pytest.param("myrepo/app", None, None,
                     ["/usr/bin/python3", "-m", "http.server", "8000"], "/srv", id="mapped"),
        pytest.param("docker.io/myrepo/app:1", None, ["9000"],
                     ["/usr/bin/python3", "-m", "http.server", "9000"], "/srv", id="args"),
        pytest.param("myrepo/app:1", ["/bin/true"], None, ["/bin/true"], "/srv", id="command"),
        pytest.param("myrepo/app:2", None, None, ["/opt/app2"], None, id="tag-wins"),
        pytest.param("myrepo/web:3", None, None, [*NGINX, "-g", "daemon off;"], None,
                     id="alias-of-builtin"),
        pytest.param("nginx", None, None, ["/usr/local/bin/my-nginx"], None,
                     id="overrides-builtin"),
    ],
)  # fmt: skip
def test_mappings(
    image: str,
    command: list[str] | None,
    args: list[str] | None,
    argv: list[str],
    working_dir: str | None,
) -> None:
    resolved = resolve(image, command, args, parse_mappings(MAPPINGS), which=fake_which)
    assert (resolved.argv, resolved.working_dir) == (argv, working_dir)


def test_mapping_env_is_under_the_image_env() -> None:
    mappings = parse_mappings(MAPPINGS)
    assert resolve("myrepo/app", None, None, mappings).env["GREETING"] == "hello"
    web = resolve("myrepo/web", None, None, mappings).env
    assert (web["X"], web["PYTHONPATH"]) == ("1", PROJECT_ROOT)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param([], "expected a mapping with an `images` mapping", id="not-a-mapping"),
        pytest.param({"imgs": {}}, "unknown top-level keys ['imgs']", id="top-level-key"),
        pytest.param({"images": {"a": {"command": "ls"}}},
                     "images.a.command: must be a list of strings", id="command-string"),
        pytest.param({"images": {"a": {"cmd": ["ls"]}}},
                     "images.a: unknown keys ['cmd']; allowed: "
                     "['args', 'command', 'env', 'image', 'workingDir']", id="unknown-key"),
        pytest.param({"images": {"A": {}}}, "images.A: invalid image reference 'A': invalid "
                     "repository name component 'A' (lower case letters, digits and "
                     "separators . _ __ - only)", id="bad-key"),
        pytest.param({"images": {"a": {"image": "foo"}}},
                     "images.a.image: 'foo' is not a built-in image", id="alias-unknown"),
        pytest.param({"images": {"a": {"env": {"X": 1}}}},
                     "images.a.env: must map names to strings", id="env-int"),
    ],
)  # fmt: skip
def test_mappings_errors(document: object, message: str) -> None:
    with pytest.raises(MappingsError) as raised:
        parse_mappings(document)
    assert str(raised.value) == message


def test_load_mappings_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "images.yaml"
    path.write_text("images:\n  myrepo/app:\n    command: [/bin/app]\n")
    loaded = load_mappings(path)
    assert resolve("myrepo/app", None, ["x"], loaded).argv == ["/bin/app", "x"]
    monkeypatch.setenv("PORTICO_IMAGES", str(path))
    assert load_mappings(None).source == path
    monkeypatch.setenv("PORTICO_IMAGES", str(tmp_path / "missing.yaml"))
    with pytest.raises(MappingsError, match="no such image mappings file"):
        load_mappings(None)


def test_load_mappings_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTICO_IMAGES", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    missing = load_mappings(None)
    assert (missing.images, missing.source) == ({}, tmp_path / "portico" / "images.yaml")
    with pytest.raises(ImageError, match=str(tmp_path / "portico" / "images.yaml")):
        resolve("unknown/app", None, None, missing)
    (tmp_path / "portico").mkdir()
    (tmp_path / "portico" / "images.yaml").write_text("images: {x/y: {command: [/y]}}\n")
    assert resolve("x/y", None, None, load_mappings(None)).argv == ["/y"]
    (tmp_path / "portico" / "images.yaml").write_text("images: [\n")
    with pytest.raises(MappingsError, match="not valid YAML"):
        load_mappings(None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("$(PORT)", "8080", id="defined"),
        pytest.param("--port=$(PORT)", "--port=8080", id="embedded"),
        pytest.param("$(MISSING)", "$(MISSING)", id="undefined-kept"),
        pytest.param("$$(PORT)", "$(PORT)", id="escaped"),
        pytest.param("$$", "$", id="dollar-dollar"),
        pytest.param("$PORT", "$PORT", id="shell-style-kept"),
        pytest.param("$(PORT", "$(PORT", id="unclosed"),
        pytest.param("$()", "$()", id="empty-name"),
        pytest.param("$(A)$(PORT)", "x8080", id="two"),
    ],
)
def test_expand(value: str, expected: str) -> None:
    assert expand(value, {"PORT": "8080", "A": "x"}) == expected
