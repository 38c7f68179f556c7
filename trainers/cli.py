"""`florenz train`, `florenz sweep`, `florenz fit`, `florenz experiment` sub-commands."""

from __future__ import annotations

import argparse

TRAIN_DESCRIPTION = (
    "Train a Florenz model. Every field of FlorenzPretrainConfig / FlorenzSFTConfig (transformers "
    "Seq2SeqTrainingArguments plus model, dataset, seen_samples, max_encoder_length, …) is a flag in the library's "
    "snake_case (kebab-case aliases accepted); --config FILE.yaml sets fields, flags on the command line override it."
)


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


def training_parser(recipe: str = "pretrain"):
    """`HfArgumentParser` over the recipe's config, with `--config` and `--recipe`: what `florenz train` parses."""
    from transformers import HfArgumentParser

    from .config import FlorenzPretrainConfig, FlorenzSFTConfig

    parser = HfArgumentParser(
        FlorenzSFTConfig if recipe == "sft" else FlorenzPretrainConfig,
        prog="florenz train",
        description=TRAIN_DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--config", help="YAML file with config fields (command-line flags override it)")
    parser.add_argument(
        "--recipe", choices=("pretrain", "sft"), default=recipe, help="defaults of continued pre-training or SFT"
    )
    return parser


def training_config(argv: list[str]):
    """Config from `florenz train` arguments: YAML fields (if `--config`) updated by the flags given explicitly."""
    recipe = "sft" if _flag_value(argv, "--recipe") == "sft" else "pretrain"
    parser = training_parser(recipe)
    explicit = {
        action.dest: action.default for action in parser._actions if action.dest not in ("help", "config", "recipe")
    }
    for action in parser._actions:  # only flags given on the command line may override the YAML file
        if action.dest in explicit:
            action.default = argparse.SUPPRESS
    namespace = parser.parse_args(argv)
    fields = {}
    if namespace.config:
        fields = read_yaml_mapping(namespace.config)
    fields.update({name: value for name, value in vars(namespace).items() if name not in ("config", "recipe")})
    (config,) = parser.parse_dict(fields)
    return config


def _flag_value(argv: list[str], flag: str) -> str | None:
    for index, item in enumerate(argv):
        if item == flag and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
    return None


class _TrainHelp(argparse.Action):
    """`florenz train --help`: the full field list, built only when asked (importing transformers is slow)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        training_parser(getattr(namespace, "recipe", None) or "pretrain").print_help()
        parser.exit()


def _train(args: argparse.Namespace) -> int:
    from .run import train

    config = training_config(args.overrides)
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
    from .experiment import run_experiment, run_lr_sweep

    if args.lr_sweep:
        print(f"learning-rate sweep: {run_lr_sweep(args.preset, args.out, num_threads=args.threads)}")
    report = run_experiment(args.preset, args.out, num_threads=args.threads)
    print(f"report: {report}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train one model (TRL-style: a YAML config and/or flags such as --output_dir DIR --seen_samples N)",
        description=TRAIN_DESCRIPTION,
        add_help=False,
    )
    train.add_argument("-h", "--help", action=_TrainHelp, help="list every training field and exit")
    # the fields themselves are parsed by `training_config`, so that `florenz --help` needs no transformers import
    train.set_defaults(func=_train, accepts_extra_flags=True, overrides=[])

    sweep = subparsers.add_parser(
        "sweep",
        help="run the model-size × seen-samples grid on Florenz-Scenes",
        description="Train every preset × samples × seed point on Florenz-Scenes and append it to OUT/runs.csv; "
        "finished points are skipped, so an interrupted sweep resumes by running the same command.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sweep.add_argument("--out", required=True, help="sweep folder (runs.csv, one folder per run)")
    sweep.add_argument("--presets", nargs="+", required=True, help="Scenes model presets, e.g. scenes-xs scenes-s")
    sweep.add_argument("--samples", nargs="+", type=int, required=True, help="training samples S of each run")
    sweep.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds; each point runs once per seed")
    sweep.add_argument(
        "--batch_size",
        "--batch-size",
        dest="batch_size",
        type=int,
        default=32,
        help="training batch per step (one process)",
    )
    sweep.add_argument(
        "--num_eval", "--num-eval", dest="num_eval", type=int, default=64, help="rows per eval set for the CE"
    )
    sweep.add_argument(
        "--generation_rows",
        "--generation-rows",
        dest="generation_rows",
        type=int,
        default=32,
        help="rows per caption set decoded for BLEU, CIDEr and target-language share",
    )
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
