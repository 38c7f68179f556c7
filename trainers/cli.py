"""`florenz train`, `florenz sweep`, `florenz fit`, `florenz experiment`: the trainers package's only CLI module."""

from __future__ import annotations

import argparse
import json


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


def _summary_line(name: str, entry: dict) -> str:
    parts = [name]
    for law, keys in (
        ("compute_law", ("alpha1",)),
        ("factor_law", ("beta1", "beta2", "beta3")),
        ("chinchilla", ("alpha", "beta")),
    ):
        fields = entry.get(law, {})
        values = [f"{key}={fields[key]:.3f}" for key in keys if isinstance(fields.get(key), float)]
        parts.append(f"{law}: {' '.join(values) if values else fields.get('note', 'n/a')}")
    return " | ".join(parts)


def _fit(args: argparse.Namespace) -> int:
    from .fit import run_fit

    path = run_fit(args.runs, args.out, n_bootstrap=args.bootstrap, seed=args.seed)
    document = json.loads(path.read_text(encoding="utf-8"))
    for name, entry in document.items():
        if isinstance(entry, dict) and name != "meta":
            print(_summary_line(name, entry))
    for name, where in document["meta"]["plots"].items():
        print(f"{name}: {where}")
    print(f"wrote {path}")
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

    fit = subparsers.add_parser(
        "fit",
        help="fit scaling laws to a sweep's runs.csv (fit.json + plots)",
        description="Fit the compute law, the factor law (P, S, T) and the Chinchilla form to each CE group of a "
        "runs.csv written by `florenz sweep`; writes fit.json, compute_law.png, params_law.png and emergence.png.",
    )
    fit.add_argument("runs", metavar="RUNS.csv")
    fit.add_argument("--out", required=True, help="output folder (created if missing)")
    fit.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates for the Chinchilla CIs")
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")
    fit.set_defaults(func=_fit)
