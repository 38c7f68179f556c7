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


def main(argv: list[str] | None = None) -> int:
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
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as err:
        print(f"florenz {args.command}: error: {err}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
