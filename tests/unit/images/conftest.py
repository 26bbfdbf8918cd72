"""Fixtures for the image tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from images_helpers import Start, start_fixture


@pytest.fixture
def start() -> Iterator[Start]:
    """Start a Python module of portico.images on loopback; stopped by PID afterwards."""
    yield from start_fixture()


@pytest.fixture(scope="module")
def start_module() -> Iterator[Start]:
    """As `start`, for servers shared by the tests of a module."""
    yield from start_fixture()
