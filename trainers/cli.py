"""The trainers package's only CLI module: `florenz train`, `sweep`, `fit`, `experiment`, `evaluate` (downstream
benchmarks, the paper's Table 4) and `finetune` (generalist fine-tune)."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

from dataset_builder.benchmarks import BENCHMARKS

if TYPE_CHECKING:
    from .config import FlorenzSFTConfig

TRAIN_DESCRIPTION = (
    "Train a Florenz model. Every field of FlorenzPretrainConfig / FlorenzSFTConfig (transformers "
    "Seq2SeqTrainingArguments plus model, dataset, seen_samples, max_encoder_length, …) is a flag in the library's "
    "snake_case (kebab-case aliases accepted); --config FILE.yaml sets fields, flags on the command line override it."
)
FINETUNE_DESCRIPTION = (
    "Generalist fine-tune of a saved model (--model DIR) on the training splits found under --data_root and on "
    "translated captions; resumes from output_dir. Every field of FlorenzSFTConfig (transformers "
    "Seq2SeqTrainingArguments plus model, seen_samples, image_size, …) is a flag in the library's snake_case "
    "(kebab-case aliases accepted); --config FILE.yaml sets fields (data_root and translated_captions too), flags "
    "on the command line override it."
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


def _config_parser(config_class: type, prog: str, description: str):
    """`HfArgumentParser` over `config_class` with `--config FILE.yaml`: the TRL pattern of train and finetune."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(
        config_class, prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--config", help="YAML file with config fields (command-line flags override it)")
    return parser


def training_parser(recipe: str = "pretrain"):
    """`HfArgumentParser` over the recipe's config, with `--config` and `--recipe`: what `florenz train` parses."""
    from .config import FlorenzPretrainConfig, FlorenzSFTConfig

    config_class = FlorenzSFTConfig if recipe == "sft" else FlorenzPretrainConfig
    parser = _config_parser(config_class, "florenz train", TRAIN_DESCRIPTION)
    parser.add_argument(
        "--recipe", choices=("pretrain", "sft"), default=recipe, help="defaults of continued pre-training or SFT"
    )
    return parser


def finetune_parser():
    """`HfArgumentParser` over `FlorenzSFTConfig`, with `--config` and the data flags: what `florenz finetune` parses."""
    from .config import FlorenzSFTConfig

    parser = _config_parser(FlorenzSFTConfig, "florenz finetune", FINETUNE_DESCRIPTION)
    parser.add_argument(
        "--data_root",
        "--data-root",
        dest="data_root",
        help="folder with multi30k/ and/or coco/ in the official layouts (train splits only are read)",
    )
    parser.add_argument(
        "--translated_captions",
        "--translated-captions",
        dest="translated_captions",
        nargs="*",
        default=[],
        help="jsonl/parquet files of translated captions: image, language, target[, source]",
    )
    return parser


def _fields(parser, argv: list[str], keep: tuple[str, ...]) -> dict:
    """YAML fields (if `--config`) updated by the flags given explicitly; the `keep` dests are left out."""
    for action in parser._actions:  # only flags given on the command line may override the YAML file
        if action.dest not in ("help", "config", *keep):
            action.default = argparse.SUPPRESS
    namespace = parser.parse_args(argv)
    fields = read_yaml_mapping(namespace.config) if namespace.config else {}
    fields.update({name: value for name, value in vars(namespace).items() if name not in ("config", *keep)})
    return fields


def training_config(argv: list[str]):
    """Config from `florenz train` arguments: YAML fields (if `--config`) updated by the flags given explicitly."""
    recipe = "sft" if _flag_value(argv, "--recipe") == "sft" else "pretrain"
    parser = training_parser(recipe)
    (config,) = parser.parse_dict(_fields(parser, argv, keep=("recipe",)))
    return config


def finetune_config(argv: list[str]) -> tuple[FlorenzSFTConfig, str | None, list[str]]:
    """(FlorenzSFTConfig, data_root or None, translated caption files) from `florenz finetune` arguments."""
    parser = finetune_parser()
    fields = _fields(parser, argv, keep=())
    data_root = fields.pop("data_root", None)
    translated = fields.pop("translated_captions", [])
    if data_root is not None and not isinstance(data_root, str):
        raise ValueError(f"data_root must be a folder path, got {data_root!r}")
    if not isinstance(translated, list) or not all(isinstance(item, str) for item in translated):
        raise ValueError(f"translated_captions must be a list of file paths, got {translated!r}")
    (config,) = parser.parse_dict(fields)
    return config, data_root, translated


def _flag_value(argv: list[str], flag: str) -> str | None:
    for index, item in enumerate(argv):
        if item == flag and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
    return None


class _FieldsHelp(argparse.Action):
    """`florenz train/finetune --help`: the full field list of `build()`'s parser, built only when asked (importing
    transformers is slow)."""

    def __init__(self, option_strings, build, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)
        self.build = build

    def __call__(self, parser, namespace, values, option_string=None):
        self.build().print_help()
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

    where = {}
    for item in args.where or []:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise ValueError(f"--where {item!r}; expected COLUMN=VALUE")
        where[column] = value
    path = run_fit(args.runs, args.out, n_bootstrap=args.bootstrap, seed=args.seed, where=where)
    document = json.loads(path.read_text(encoding="utf-8"))
    for name, entry in document.items():
        if isinstance(entry, dict) and name != "meta":
            print(_summary_line(name, entry))
    for name, location in document["meta"]["plots"].items():
        print(f"{name}: {path.parent / location if (path.parent / location).is_file() else location}")
    print(f"wrote {path}")
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from .experiment import run_experiment

    report = run_experiment(args.preset, args.out, num_threads=args.threads, lr_sweep=args.lr_sweep)
    print(f"report: {report}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .benchmark_eval import evaluate_benchmarks

    benchmarks = list(BENCHMARKS) if "all" in args.benchmark else args.benchmark
    started = time.perf_counter()
    evaluate_benchmarks(
        args.model,
        args.data_root,
        args.out,
        benchmarks=benchmarks,
        splits=args.split,
        languages=args.languages,
        prefix=args.prefix,
        batch_size=args.batch_size,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
        limit=args.limit,
        comet_checkpoint=args.comet_checkpoint,
        copies=dict(args.hub_copy or []),
    )
    print(f"results: {args.out}/results.md and results.json ({time.perf_counter() - started:.1f} s)")
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from .finetune import finetune

    config, data_root, translated_captions = finetune_config(args.overrides)
    final = finetune(config, data_root, translated_captions)
    print(f"saved fine-tuned model to {final}")
    return 0


def _copy(text: str) -> tuple[str, str]:
    benchmark, sep, source = text.partition("=")
    if not sep or benchmark not in BENCHMARKS or not source:
        raise argparse.ArgumentTypeError(
            f"expected BENCHMARK=PATH_OR_REPO with BENCHMARK in {BENCHMARKS}, got {text!r}"
        )
    return benchmark, source


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _register_downstream(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "evaluate",
        help="downstream benchmarks (Multi30K, CoMMuTE, XM3600, COCO Karpathy) → results.json/.md, predictions.jsonl",
    )
    evaluate.add_argument("--model", required=True, help="a saved Florenz model folder")
    evaluate.add_argument("--benchmark", nargs="+", choices=(*BENCHMARKS, "all"), default=["all"])
    evaluate.add_argument(
        "--data-root",
        required=True,
        help="folder with multi30k/, CoMMuTE/, xm3600/, coco/ in the official layouts (or `florenz data "
        "export-benchmarks` output)",
    )
    evaluate.add_argument("--split", nargs="+", help="e.g. test_2016_flickr test_2017_mscoco (default: all present)")
    evaluate.add_argument("--languages", nargs="+", help="restrict languages (default: the paper's per benchmark)")
    evaluate.add_argument(
        "--prefix",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also decode XM3600 with the decoder language prefix (zero-shot protocol); --no-prefix skips it",
    )
    evaluate.add_argument("--batch-size", type=_positive, default=8)
    evaluate.add_argument("--num-beams", type=_positive, default=4)
    evaluate.add_argument("--max-new-tokens", type=_positive, default=128)
    evaluate.add_argument("--limit", type=_positive, help="first N items of every task (quick looks)")
    evaluate.add_argument(
        "--hub-copy",
        nargs="+",
        type=_copy,
        metavar="BENCHMARK=SOURCE",
        help="read a benchmark from your parquet copy (local folder or cached Hub dataset repo) with the loaders' "
        "columns (id, image, task, language, split, source, references; CoMMuTE also correct, incorrect)",
    )
    evaluate.add_argument("--comet-checkpoint", help="local COMET model.ckpt (e.g. wmt22-comet-da); none is downloaded")
    evaluate.add_argument("--out", required=True, help="output folder; re-run with the same flags to resume")
    evaluate.set_defaults(func=_evaluate)

    finetune = subparsers.add_parser(
        "finetune",
        help="generalist fine-tune on Multi30K/COCO Karpathy train files and translated captions (TRL-style: a YAML "
        "config and/or flags such as --model DIR --output_dir DIR --data_root DIR)",
        description=FINETUNE_DESCRIPTION,
        add_help=False,
    )
    finetune.add_argument("-h", "--help", action=_FieldsHelp, build=finetune_parser, help="list every field and exit")
    # the fields are parsed by `finetune_config`, so that `florenz --help` needs no transformers import
    finetune.set_defaults(func=_finetune, accepts_extra_flags=True, overrides=[])


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train one model (TRL-style: a YAML config and/or flags such as --output_dir DIR --seen_samples N)",
        description=TRAIN_DESCRIPTION,
        add_help=False,
    )
    train.add_argument(
        "-h", "--help", action=_FieldsHelp, build=training_parser, help="list every training field and exit"
    )
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
        action=argparse.BooleanOptionalAction,
        default=True,
        help="first train each (size, T level) at the plan's LR-sweep budget with the plan's multiples of its "
        "rule-of-thumb rate and train the grid at the rate with the lowest seen-caption + translation CE (default; "
        "--no-lr-sweep: the rule's rates)",
    )
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
    fit.add_argument(
        "--where", action="append", metavar="COLUMN=VALUE", help="fit only these runs, e.g. experiment=grid; repeat"
    )
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")
    fit.set_defaults(func=_fit)

    _register_downstream(subparsers)
