"""`florenz evaluate` (downstream benchmarks, the paper's Table 4) and `florenz finetune` (generalist fine-tune)."""

from __future__ import annotations

import argparse
import time

from dataset_builder.benchmarks import BENCHMARKS


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
    from transformers import HfArgumentParser

    from .config import FlorenzSFTConfig
    from .finetune import finetune

    parser = HfArgumentParser(FlorenzSFTConfig)
    if args.config:
        if args.overrides:
            raise ValueError("give either --config FILE.yaml or training flags, not both")
        (config,) = parser.parse_yaml_file(args.config)
    else:
        (config,) = parser.parse_args_into_dataclasses(args=args.overrides)
    final = finetune(config, args.data_root, args.translated_captions)
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


def register(subparsers: argparse._SubParsersAction) -> None:
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
        help="generalist fine-tune on Multi30K/COCO Karpathy train files and translated captions",
        description="Fine-tune a saved model (--model DIR --output_dir DIR --seen_samples N …: the fields of "
        "FlorenzSFTConfig) on the training splits found under --data-root; resumes from output_dir.",
    )
    finetune.add_argument("--data-root", help="folder with multi30k/ and/or coco/ (train splits only are read)")
    finetune.add_argument(
        "--translated-captions", nargs="*", default=[], help="jsonl/parquet files: image, language, target[, source]"
    )
    finetune.add_argument("--config", help="YAML file with the FlorenzSFTConfig fields")
    finetune.set_defaults(func=_finetune, accepts_extra_flags=True, overrides=[])
