"""Command-line flags the way agnhost's cobra/pflag parses them.

Theory of operation: manifests written for the real agnhost pass flags as
`--http-port=8080`, `--http-port 8080`, `--udp`, `--http=false`; pflag accepts all of
those, and a bool flag never consumes the next word. Each subcommand declares its flags
as `Flag`s whose default's type (bool, int, str) is the flag's type. Errors use
cobra's wording so that a pod's log reads like the real image's.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FlagValue = bool | int | str

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class FlagError(ValueError):
    """The command line is invalid; the message is what cobra prints after `Error: `."""


class HelpRequested(Exception):
    """`-h` / `--help` was given."""


@dataclass(frozen=True)
class Flag:
    name: str
    default: FlagValue
    usage: str


def _convert(flag: Flag, text: str) -> FlagValue:
    if isinstance(flag.default, bool):
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FlagError(
            f'invalid argument "{text}" for "--{flag.name}" flag: '
            f'strconv.ParseBool: parsing "{text}": invalid syntax'
        )
    if isinstance(flag.default, int):
        try:
            return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
        except ValueError:
            raise FlagError(
                f'invalid argument "{text}" for "--{flag.name}" flag: '
                f'strconv.ParseInt: parsing "{text}": invalid syntax'
            ) from None
    return text


def parse_flags(flags: Sequence[Flag], argv: Sequence[str]) -> dict[str, FlagValue]:
    """Parse `argv` (no positional arguments allowed, as `cobra.MaximumNArgs(0)`)."""
    by_name = {flag.name: flag for flag in flags}
    values: dict[str, FlagValue] = {flag.name: flag.default for flag in flags}
    positional: list[str] = []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            positional.extend(words)
            break
        if word in ("-h", "--help"):
            raise HelpRequested()
        if not word.startswith("-") or word == "-":
            positional.append(word)
            continue
        name, has_value, text = word.lstrip("-").partition("=")
        flag = by_name.get(name)
        if flag is None or (word.startswith("-") and not word.startswith("--")):
            raise FlagError(f"unknown flag: {word.partition('=')[0]}")
        if not has_value:
            if isinstance(flag.default, bool):
                text = "true"
            elif words:
                text = words.pop(0)
            else:
                raise FlagError(f"flag needs an argument: --{name}")
        values[name] = _convert(flag, text)
    if positional:
        raise FlagError(f"accepts at most 0 arg(s), received {len(positional)}")
    return values


def usage(command: str, short: str, flags: Sequence[Flag]) -> str:
    """A cobra-like help text."""
    lines = [short, "", "Usage:", f"  agnhost {command} [flags]", "", "Flags:"]
    for flag in flags:
        kind = (
            ""
            if isinstance(flag.default, bool)
            else (" int" if isinstance(flag.default, int) else " string")
        )
        lines.append(f"      --{flag.name}{kind}\t{flag.usage} (default {flag.default!r})")
    return "\n".join(lines) + "\n"
