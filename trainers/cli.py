"""`florenz train`, `florenz sweep`, `florenz fit`, `florenz experiment` sub-commands."""

from __future__ import annotations

import argparse


def read_yaml_mapping(path: str) -> dict:
    """A YAML config file as a dict of fields; malformed, empty or non-mapping files are one-line errors."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ValueError(f"--config {path!r} is not valid YAML{line}: {getattr(err, 'problem', None) or err}") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"--config {path!r} is not UTF-8 text") from err
    if not isinstance(document, dict):
        found = "empty" if document is None else f"a {type(document).__name__}"
        raise ValueError(f"--config {path!r} is {found}; it must be a mapping of training fields (key: value)")
    return document


def _train(args: argparse.Namespace) -> int:
    from transformers import HfArgumentParser

    from .config import FlorenzPretrainConfig, FlorenzSFTConfig
    from .run import train

    config_class = FlorenzSFTConfig if args.recipe == "sft" else FlorenzPretrainConfig
    parser = HfArgumentParser(config_class)
    if args.config:
        if args.overrides:
            raise ValueError("give either --config FILE.yaml or training flags, not both")
        (config,) = parser.parse_dict(read_yaml_mapping(args.config))
    else:
        (config,) = parser.parse_args_into_dataclasses(args=args.overrides)
    from dataset_builder.release import ensure_writable

    ensure_writable(config.output_dir, "--output_dir")
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
    from .experiment import run_experiment

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
    experiment.set_defaults(func=_experiment)

    from .fit_cli import register as register_fit

    register_fit(subparsers)
