"""`florenz train`, `florenz sweep`, `florenz fit`, `florenz experiment` sub-commands."""

from __future__ import annotations

import argparse


def _train(args: argparse.Namespace) -> int:
    from transformers import HfArgumentParser

    from .config import FlorenzPretrainConfig, FlorenzSFTConfig
    from .run import train

    config_class = FlorenzSFTConfig if args.recipe == "sft" else FlorenzPretrainConfig
    parser = HfArgumentParser(config_class)
    if args.config:
        (config,) = parser.parse_yaml_file(args.config)
        if args.overrides:
            raise ValueError("give either --config FILE.yaml or training flags, not both")
    else:
        (config,) = parser.parse_args_into_dataclasses(args=args.overrides)
    train(config)
    print(f"saved final model to {config.output_dir}/final")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep

    table = run_sweep(
        args.out,
        presets=args.presets,
        samples=args.samples,
        seeds=args.seeds,
        batch_size=args.batch_size,
        num_eval=args.num_eval,
        generation_rows=args.generation_rows,
    )
    print(f"runs table: {table}")
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from .experiment import run_experiment, run_lr_sweep

    if args.lr_sweep:
        print(f"learning-rate sweep: {run_lr_sweep(args.preset, args.out, num_threads=args.threads)}")
    report = run_experiment(args.preset, args.out, num_threads=args.threads)
    print(f"report: {report}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train one model (TRL-style config: YAML file or flags such as --output_dir DIR --seen_samples N)",
        description="Train a Florenz model. Flags are the fields of FlorenzPretrainConfig / FlorenzSFTConfig "
        "(transformers Seq2SeqTrainingArguments plus model, dataset, seen_samples, max_encoder_length, …).",
    )
    train.add_argument("--config", help="YAML file with the config fields")
    train.add_argument("--recipe", choices=("pretrain", "sft"), default="pretrain")
    train.set_defaults(func=_train, accepts_extra_flags=True, overrides=[])

    sweep = subparsers.add_parser("sweep", help="run the model-size × seen-samples grid on Florenz-Scenes")
    sweep.add_argument("--out", required=True)
    sweep.add_argument("--presets", nargs="+", required=True)
    sweep.add_argument("--samples", nargs="+", type=int, required=True)
    sweep.add_argument("--seeds", nargs="+", type=int, default=[0])
    sweep.add_argument("--batch-size", type=int, default=32)
    sweep.add_argument("--num-eval", type=int, default=64)
    sweep.add_argument("--generation-rows", type=int, default=32)
    sweep.set_defaults(func=_sweep)

    experiment = subparsers.add_parser(
        "experiment",
        help="the paper's experiment end to end: Scenes corpus, sweep, fits, emergence evaluation, report.md",
    )
    experiment.add_argument("--preset", default="quick", help="plan: quick (CPU, < 1 h), full (GPU), smoke (minutes)")
    experiment.add_argument("--out", required=True, help="output folder (resumable: re-run to continue)")
    experiment.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    experiment.add_argument(
        "--lr-sweep",
        action="store_true",
        help="first train each size at the plan's LR-sweep budget with 0.5×/1×/2× its rate (results in the report)",
    )
    experiment.set_defaults(func=_experiment)

    from .fit_cli import register as register_fit

    register_fit(subparsers)
