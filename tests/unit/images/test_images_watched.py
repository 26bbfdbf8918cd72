"""MappingsFile: the user's mappings, re-read when the file changes; where `portico up`
finds the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portico.cli._supervisor import images_file
from portico.images import ImageError, MappingsFile, parse, resolve

APP = parse("myrepo/app:1")


def write(path: Path, text: str) -> None:
    """Replace the file as editors do (a new inode), so every write is a change."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def mapping(command: str) -> str:
    return f"images:\n  myrepo/app:\n    command: [{command}]\n"


def test_a_missing_file_maps_nothing_and_names_itself(tmp_path: Path) -> None:
    source = MappingsFile(tmp_path / "images.yaml")
    assert source.lookup(APP) is None
    with pytest.raises(ImageError, match=f"map the image in {tmp_path}/images.yaml$"):
        resolve("myrepo/app:1", None, None, source)


def test_a_change_is_read_at_the_next_lookup(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    source = MappingsFile(path)
    assert source.lookup(APP) is None
    write(path, mapping("/bin/one"))
    assert resolve("myrepo/app:1", None, None, source).argv == ["/bin/one"]
    write(path, mapping("/bin/two"))
    assert resolve("myrepo/app:1", None, None, source).argv == ["/bin/two"]
    path.unlink()
    assert source.lookup(APP) is None


def test_an_unusable_file_keeps_the_previous_mappings_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    write(path, mapping("/bin/one"))
    source = MappingsFile(path)
    assert resolve("myrepo/app:1", None, None, source).argv == ["/bin/one"]
    write(path, "images: [not, a, mapping")
    assert resolve("myrepo/app:1", None, None, source).argv == ["/bin/one"]
    with pytest.raises(ImageError, match=r"images\.yaml \(not in use: .*not valid YAML"):
        resolve("other/image", None, None, source)


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    write(path, mapping("/bin/one"))
    stats: list[Path] = []

    def identity(p: Path) -> tuple[int, int, int]:
        stats.append(p)
        return 1, 2, 3

    source = MappingsFile(path, identity=identity)
    assert source.lookup(APP) is not None
    path.write_text(mapping("/bin/two"))  # same identity: not noticed
    assert resolve("myrepo/app:1", None, None, source).argv == ["/bin/one"]
    assert len(stats) == 2


@pytest.mark.parametrize(("env", "expected"), [
    pytest.param({"PORTICO_IMAGES": "mine.yaml"}, "{cwd}/mine.yaml", id="env-relative"),
    pytest.param({"PORTICO_IMAGES": "/etc/m.yaml", "HOME": "/h"}, "/etc/m.yaml", id="env-wins"),
    pytest.param({"HOME": "/h"}, "/h/.config/portico/images.yaml", id="home"),
    pytest.param({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}, "/x/portico/images.yaml", id="xdg"),
])
def test_portico_up_passes_its_environments_file(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for name in ("PORTICO_IMAGES", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert str(images_file()) == expected.format(cwd=os.getcwd())
