"""crun's side of a container: its start errors in runc's words, exec as the container's
process, and the hybrid cgroup layout it must not see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portico.oci import _container as runtime_container
from portico.oci._container import OciContainer, runc_words


@pytest.mark.parametrize(("message", "argv0", "expected"), [
    pytest.param("executable file `/no/such/program` not found in $PATH: No such file or "
                 "directory", "/no/such/program",
                 'exec: "/no/such/program": stat /no/such/program: no such file or directory',
                 id="absolute-path-missing"),
    pytest.param("executable file `nosuch` not found in $PATH: No such file or directory",
                 "nosuch", 'exec: "nosuch": executable file not found in $PATH',
                 id="name-not-in-path"),
    pytest.param("open executable: Permission denied", "/etc/passwd",
                 'exec: "/etc/passwd": permission denied', id="not-executable"),
    pytest.param("open executable: Operation not permitted", "/tmp",
                 'exec: "/tmp": permission denied', id="a-directory"),
    pytest.param("chdir to `/nowhere`: No such file or directory", "sh",
                 "chdir to `/nowhere`: No such file or directory", id="other-errors-as-they-are"),
])
def test_crun_start_errors_read_as_runc_words_them(message: str, argv0: str,
                                                   expected: str) -> None:
    assert runc_words(message, argv0) == expected


def _container(tmp_path: Path) -> OciContainer:
    return OciContainer("abc-c-0", tmp_path / "crun", tmp_path / "bundle", "/p/abc-c-0", ())


def test_the_start_error_is_the_first_error_of_cruns_log(tmp_path: Path) -> None:
    container = _container(tmp_path)
    container.bundle.mkdir()
    container.write_config({"process": {"args": ["/bin/app", "-v"]}})
    assert container.start_error() == ""
    (container.bundle / "crun.log").write_text("\n".join(json.dumps(e) for e in [
        {"msg": "some warning", "level": "warning"},
        {"msg": "open executable: Permission denied", "level": "error"}]) + "\n")
    assert container.start_error() == 'exec: "/bin/app": permission denied'


def test_exec_runs_as_the_containers_process_once_per_content(tmp_path: Path) -> None:
    container = _container(tmp_path)
    container.bundle.mkdir()
    process = {"args": ["sleep", "9"], "terminal": True, "cwd": "/srv", "env": ["A=1"],
               "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]}}
    container.write_config({"process": process})
    argv = container.exec_argv(["id", "-u"])
    assert argv[:5] == ["crun", "--root", str(tmp_path / "crun"), "exec", "--process"]
    assert argv[6:] == ["abc-c-0"]
    assert json.loads(Path(argv[5]).read_text()) == {**process, "args": ["id", "-u"],
                                                     "terminal": False}
    assert container.exec_argv(["id", "-u"]) == argv
    assert container.exec_argv(["true"]) != argv
    assert len(list(container.bundle.glob("exec-*.json"))) == 2


@pytest.mark.parametrize(("v2_root", "unified_mounted", "hybrid"), [
    pytest.param(False, True, True, id="v1-with-unified"),
    pytest.param(False, False, False, id="v1-only"),
    pytest.param(True, False, False, id="v2"),
])
def test_hybrid_cgroups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, v2_root: bool,
                        unified_mounted: bool, hybrid: bool) -> None:
    monkeypatch.setattr(runtime_container, "CGROUP_ROOT", tmp_path)
    if v2_root:
        (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    monkeypatch.setattr(runtime_container.os.path, "ismount",
                        lambda path: unified_mounted and path == tmp_path / "unified")
    monkeypatch.setattr(runtime_container, "HYBRID_UNIFIED", tmp_path / "unified")
    assert runtime_container.hybrid_cgroups() is hybrid
