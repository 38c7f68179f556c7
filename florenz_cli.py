"""`florenz` command line: one entry point, one sub-command group per package.

Each package contributes its sub-commands through a `register(subparsers)` function so that importing the CLI stays
cheap (heavy imports happen inside the command functions).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module, description) — each module exposes `register(subparsers)`.
_COMMAND_MODULES = (
    "model_tools.cli",
    "dataset_builder.cli",
    "trainers.cli",
    "spaces_demo.cli",
    "trainers.downstream_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="florenz", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:  # a package without CLI yet
            if err.name == name:
                continue
            raise
        module.register(subparsers)
    return parser


MAX_ERROR_CHARS = 300


def invalid_unicode_argument(argv: list[str]) -> str | None:
    """A one-line error for the first argument that is not valid Unicode (undecodable bytes arrive as lone
    surrogates), naming the flag it belongs to; None when every argument is valid."""
    for position, value in enumerate(argv):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            if value.startswith("-"):
                name = f"the flag {value[: err.start]!r}…"
            elif position and argv[position - 1].startswith("-"):
                name = f"the value of {argv[position - 1].split('=')[0]}"
            else:
                name = f"command-line argument {position + 1}"
            code = ord(value[err.start])
            found = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"lone surrogate U+{code:04X}"
            return f"{name} holds invalid Unicode ({found} at character {err.start}); give UTF-8 text"
    return None


def _one_line(message: str) -> str:
    """Errors stay one readable line: newlines folded, at most `MAX_ERROR_CHARS` characters."""
    message = " ".join(message.split())
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    problem = invalid_unicode_argument(argv)
    if problem:
        print(f"florenz: error: {_one_line(problem)}", file=sys.stderr)
        return 2
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "accepts_extra_flags", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*getattr(args, "overrides", []), *extra]
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except (ValueError, OSError) as err:
        # OSError covers missing files, permissions and read-only file systems: one line naming the path.
        print(f"florenz {args.command}: error: {_one_line(str(err) or type(err).__name__)}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
