"""Entry point: `python -m portico.images.agnhost <subcommand> [flags]`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from portico.images.agnhost._flags import Flag, FlagError, HelpRequested, parse_flags, usage

SUBCOMMANDS = {
    "netexec": "Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints",
    "serve-hostname": "Serves the hostname",
    "pause": "Pauses the execution",
}


def _root_usage() -> str:
    lines = [
        "agnhost (portico): a subset of Kubernetes' agnhost test image",
        "",
        "Usage:",
        "  agnhost [command]",
        "",
        "Available Commands:",
    ]
    lines += [f"  {name:<16}{short}" for name, short in SUBCOMMANDS.items()]
    return "\n".join(lines) + "\n"


def _flags_for(command: str) -> tuple[Flag, ...]:
    if command == "netexec":
        from portico.images.agnhost import _netexec

        return _netexec.FLAGS
    if command == "serve-hostname":
        from portico.images.agnhost import _serve_hostname

        return _serve_hostname.FLAGS
    return ()


def run(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(_root_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        sys.stderr.write(f'Error: unknown command "{command}" for "agnhost"\n{_root_usage()}')
        return 1
    flags = _flags_for(command)
    try:
        values = parse_flags(flags, rest)
        if command == "pause":
            from portico.images.agnhost._pause import pause

            return pause()
        if command == "netexec":
            from portico.images.agnhost import _netexec

            return asyncio.run(_netexec.serve(_netexec.Options.from_flags(values)))
        from portico.images.agnhost import _serve_hostname

        return asyncio.run(_serve_hostname.serve(values))
    except HelpRequested:
        sys.stdout.write(usage(command, SUBCOMMANDS[command], flags))
        return 0
    except FlagError as error:
        sys.stderr.write(f"Error: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
