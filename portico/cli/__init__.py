"""The `portico` command: up, wait, down."""

from portico.cli._main import main

__all__ = ["main"]
