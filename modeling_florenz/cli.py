"""`florenz model …` sub-commands: inspect presets, write ready-to-load checkpoints, convert upstream weights."""

from __future__ import annotations

import argparse
import json


def _info(args: argparse.Namespace) -> int:
    from .parameter_count import count_parameters

    counts = count_parameters(args.preset)
    if args.json:
        print(json.dumps(counts))
    else:
        for name, value in counts.items():
            print(f"{name}: {value:,} ({value / 1e9:.3f}B)")
    return 0


def _init(args: argparse.Namespace) -> int:
    from .checkpoint_init import init_checkpoint

    folder = init_checkpoint(args.preset, args.out, seed=args.seed, image_size=args.image_size)
    print(f"wrote {args.preset} to {folder}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="inspect, initialise and convert Florenz models")
    commands = model.add_subparsers(dest="model_command", metavar="MODEL_COMMAND", required=True)

    info = commands.add_parser("info", help="parameter counts of a preset (built on the meta device)")
    info.add_argument("preset")
    info.add_argument("--json", action="store_true", help="print {total_params, trainable_params} as JSON")
    info.set_defaults(func=_info)

    init = commands.add_parser("init", help="write a complete model + processor folder for a preset")
    init.add_argument("preset")
    init.add_argument("--out", required=True, help="output folder (created; must be empty if it exists)")
    init.add_argument("--seed", type=int, default=0, help="seed of the random initialisation")
    init.add_argument("--image-size", type=int, default=None, help="processor image size (default: preset's)")
    init.set_defaults(func=_init)

