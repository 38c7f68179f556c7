"""Release layout: a folder that *is* a Hub dataset repo (Parquet shards + README `configs:` + dataset card).

datasets ≥ 4 loads no scripts (stack-notes §4), so the release is plain Parquet under
``data/<config>/<split>-XXXXX-of-YYYYY.parquet`` with `Image` features embedded, one config per task×language key
(``caption-fr``, ``translation-zh``, ``disambiguation-de``…) and a mixed ``pretrain`` config whose data files are the
covered keys' shards (no duplicated bytes). ``load_dataset(folder, "caption-fr")`` works offline.

Guarantees:
- byte-identical output for identical parameters: rows are a pure function of (split, key, index), images are encoded
  by `datasets.Image` (PNG), Parquet is written by pyarrow with fixed options and no timestamps;
- a shard is written to a hidden temp file and `os.replace`d into place, so a visible shard is always complete;
- an interrupted build resumes: the manifest pins the parameters, existing shards are kept, missing ones are written;
  README.md is written last, so its presence marks a finished release.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, Image, Value

FEATURES = Features(
    {
        "image": Image(),
        "task": Value("string"),
        "language": Value("string"),
        "prompt": Value("string"),
        "source": Value("string"),
        "target": Value("string"),
        "scene": Value("string"),
        "target_incorrect": Value("string"),
    }
)
SPLIT_ORDER = ("train", "test", "heldout")
MIXTURE_CONFIG = "pretrain"
MANIFEST_NAME = "florenz_release.json"
ROW_GROUP_SIZE = 100  # image rows: small row groups keep random access and streaming cheap (the datasets default)

RowFunction = Callable[[str, str, int], Mapping]


def shard_layout(key: str, split: str, num_rows: int, rows_per_shard: int) -> list[tuple[str, range]]:
    """Relative shard paths of one (config, split) table and the row indices each holds."""
    num_shards = max(1, -(-num_rows // rows_per_shard))
    return [
        (
            f"data/{key}/{split}-{shard:05d}-of-{num_shards:05d}.parquet",
            range(shard * rows_per_shard, min(num_rows, (shard + 1) * rows_per_shard)),
        )
        for shard in range(num_shards)
    ]


def _write_shard(path: Path, rows: list[Mapping]) -> None:
    """Encode rows with `FEATURES` and write them atomically (hidden temp name, then `os.replace`)."""
    encoded = [FEATURES.encode_example({name: row[name] for name in FEATURES}) for row in rows]
    table = pa.Table.from_pylist(encoded, schema=FEATURES.arrow_schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, compression="snappy")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def ensure_writable(out_dir: str | os.PathLike) -> Path:
    """Create `out_dir` and prove it writable before any generation work starts."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"output folder {str(out)!r} is not writable: {err}") from err
    return out


def _check_manifest(out: Path, manifest: dict) -> None:
    """Refuse to resume into a folder built with other parameters, or to write into an unrelated non-empty folder."""
    path = out / MANIFEST_NAME
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous != manifest:
            raise ValueError(
                f"{str(out)!r} holds a release built with different parameters ({MANIFEST_NAME} differs); "
                "use an empty folder or the original parameters to resume"
            )
    elif any(not entry.name.startswith(".") for entry in out.iterdir()):
        raise ValueError(f"output folder {str(out)!r} is not empty and holds no {MANIFEST_NAME}; use an empty folder")


def _key_language(key: str) -> str:
    return key.rsplit("-", 1)[-1]


def _configs_yaml(plan: Mapping[tuple[str, str], int], mixture_keys: Sequence[str]) -> list[dict]:
    keys = sorted({key for key, _ in plan})
    configs = [
        {
            "config_name": MIXTURE_CONFIG,
            "default": True,
            "data_files": [
                {
                    "split": split,
                    "path": [f"data/{key}/{split}-*.parquet" for key in mixture_keys if (key, split) in plan],
                }
                for split in SPLIT_ORDER
                if any((key, split) in plan for key in mixture_keys)
            ],
        }
    ]
    for key in keys:
        configs.append(
            {
                "config_name": key,
                "data_files": [
                    {"split": split, "path": f"data/{key}/{split}-*.parquet"}
                    for split in SPLIT_ORDER
                    if (key, split) in plan
                ],
            }
        )
    return configs


def coverage_matrix(config_splits: Mapping[str, Sequence[str]]) -> str:
    """Markdown task × language table: `train+eval`, `train only`, `eval only` or `—` per cell (incomplete coverage)."""
    from .balancing import LANGUAGES

    tasks = sorted({key.rsplit("-", 1)[0] for key in config_splits if key != MIXTURE_CONFIG})
    lines = ["| task | " + " | ".join(LANGUAGES) + " |", "|---|" + "---|" * len(LANGUAGES)]
    for task in tasks:
        cells = []
        for lang in LANGUAGES:
            splits = set(config_splits.get(f"{task}-{lang}", ()))
            if not splits:
                cells.append("—")
            elif "train" in splits:
                cells.append("train+eval" if len(splits) > 1 else "train only")
            else:
                cells.append("eval only")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _dataset_card(
    plan: Mapping[tuple[str, str], int],
    mixture_keys: Sequence[str],
    *,
    title: str,
    description: str,
    sources: Sequence[tuple[str, str]],
    license: str,
    parameters: Mapping,
    sections: str = "",
) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData

    languages = sorted({_key_language(key) for key, _ in plan})
    tasks = {key.rsplit("-", 1)[0] for key, _ in plan}
    data = DatasetCardData(
        language=languages,
        license=license,
        pretty_name=title,
        task_categories=["image-to-text"] + (["translation"] if tasks & {"translation", "disambiguation"} else []),
        tags=["florenz", "multilingual", "image-captioning", "multimodal-translation"],
        configs=_configs_yaml(plan, mixture_keys),
    )
    config_splits: dict[str, list[str]] = {}
    for key, split in plan:
        config_splits.setdefault(key, []).append(split)
    counts = ["| config | " + " | ".join(SPLIT_ORDER) + " |", "|---|" + "---|" * len(SPLIT_ORDER)]
    for key in sorted(config_splits):
        counts.append(f"| {key} | " + " | ".join(str(plan.get((key, split), "—")) for split in SPLIT_ORDER) + " |")
    mixture = " | ".join(str(sum(plan.get((key, split), 0) for key in mixture_keys)) for split in SPLIT_ORDER)
    counts.append(f"| {MIXTURE_CONFIG} (mix of {', '.join(mixture_keys)}) | {mixture} |")
    source_rows = "\n".join(f"| {name} | {licence} |" for name, licence in sources)
    body = f"""# {title}

{description}

Load one task×language table with `load_dataset(path, "caption-fr")`, or the pre-training mixture with
`load_dataset(path, "{MIXTURE_CONFIG}")` and sample it with `dataset_builder.balancing.BalancedDataset`.
Columns: `image`, `task`, `language`, `prompt` (encoder prompt), `source` (English source of translations),
`target`, `scene` (scene graph JSON, Scenes only), `target_incorrect` (disambiguation rows only).

## Coverage

{coverage_matrix(config_splits)}

## Sources and licences

| source | licence |
|---|---|
{source_rows}

## Row counts

{chr(10).join(counts)}

{sections}## Generation parameters

```json
{json.dumps(parameters, indent=2, sort_keys=True, ensure_ascii=False)}
```
"""
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def write_release(
    out_dir: str | os.PathLike,
    plan: Mapping[tuple[str, str], int],
    make_row: RowFunction,
    *,
    mixture_keys: Sequence[str],
    parameters: Mapping,
    title: str,
    description: str,
    sources: Sequence[tuple[str, str]],
    license: str,
    rows_per_shard: int = 1000,
    progress: Callable[[str], None] | None = None,
    card_sections: Callable[[Path], str] | None = None,
) -> dict[tuple[str, str], int]:
    """Write (or resume) a release: ``plan`` maps (config key, split) to a row count; ``make_row(split, key, index)``
    returns one row. Returns the plan's counts. Shards that already exist are complete by construction and skipped.
    ``card_sections(folder)``, called once every shard exists, returns extra Markdown for the dataset card.
    """
    if rows_per_shard <= 0:
        raise ValueError(f"rows_per_shard must be positive, got {rows_per_shard}")
    unknown_splits = sorted({split for _, split in plan} - set(SPLIT_ORDER))
    if unknown_splits:
        raise ValueError(f"unknown splits {unknown_splits}; allowed: {list(SPLIT_ORDER)}")
    missing = [key for key in mixture_keys if (key, "train") not in plan]
    if missing:
        raise ValueError(f"mixture keys without a train table: {missing}")
    out = ensure_writable(out_dir)
    manifest = {
        "parameters": json.loads(json.dumps(parameters, sort_keys=True)),
        "rows_per_shard": rows_per_shard,
        "plan": {f"{key}/{split}": count for (key, split), count in sorted(plan.items())},
        "mixture_keys": list(mixture_keys),
    }
    _check_manifest(out, manifest)
    if not (out / MANIFEST_NAME).exists():
        _write_text_atomic(
            out / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    for (key, split), num_rows in sorted(plan.items()):
        for relative, indices in shard_layout(key, split, num_rows, rows_per_shard):
            path = out / relative
            if path.exists():
                continue
            rows = []
            for index in indices:
                row = make_row(split, key, index)
                if row["language"] != _key_language(key):
                    raise ValueError(
                        f"row {split}/{key}/{index} has language {row['language']!r}, not {_key_language(key)!r}"
                    )
                rows.append(row)
            _write_shard(path, rows)
            if progress is not None:
                progress(relative)
    card = _dataset_card(
        plan,
        mixture_keys,
        title=title,
        description=description,
        sources=sources,
        license=license,
        parameters=manifest["parameters"],
        sections=card_sections(out) if card_sections else "",
    )
    _write_text_atomic(out / "README.md", card)
    return dict(plan)


def scenes_plan(config, num_train: int, num_eval: int) -> dict[tuple[str, str], int]:
    """Row counts of a Scenes release.

    Train: ``num_train`` rows split evenly over the covered keys (``config.train_keys()``); the remainder goes one row
    each to the first keys in sorted order, so the train total is exactly ``num_train``. Eval splits: ``num_eval`` rows
    for every key of ``eval_keys(config, split)`` (captions in all six languages, so unseen-language captions exist).
    """
    from .corpus import SPLITS, eval_keys

    train_keys = sorted(config.train_keys())
    if num_train < len(train_keys):
        raise ValueError(f"num_train must be at least the number of train keys ({len(train_keys)}), got {num_train}")
    if num_eval < 0:
        raise ValueError(f"num_eval must be ≥ 0, got {num_eval}")
    per_key, remainder = divmod(num_train, len(train_keys))
    plan = {(key, "train"): per_key + (i < remainder) for i, key in enumerate(train_keys)}
    if num_eval:
        for split in SPLITS:
            if split != "train":
                # Disambiguation rows come in image pairs sharing one source: an even count keeps every pair whole.
                plan.update(
                    {
                        (key, split): num_eval + num_eval % 2 * key.startswith("disambiguation-")
                        for key in eval_keys(config, split)
                    }
                )
    return plan


def _text_column(folder: Path, key: str, splits: Sequence[str]) -> list[str]:
    files = [f for split in splits for f in sorted(glob.glob(str(folder / "data" / key / f"{split}-*.parquet")))]
    return [text for f in files for text in pq.read_table(f, columns=["target"]).column("target").to_pylist()]


def release_overlap(folder: str | os.PathLike) -> dict:
    """Overlap of each language's evaluation captions (test + heldout) with all of its training targets, from the
    Parquet text columns (no image decoding); `unseen` lists the caption languages without training captions."""
    from .overlap import overlap_statistics

    root = Path(folder)
    keys = {path.name for path in (root / "data").iterdir() if path.is_dir()}
    languages = sorted({_key_language(key) for key in keys if key.startswith("caption-")})
    evaluation = {lang: _text_column(root, f"caption-{lang}", ("test", "heldout")) for lang in languages}
    train = {
        lang: [t for key in sorted(keys) if _key_language(key) == lang for t in _text_column(root, key, ("train",))]
        for lang in languages
    }
    unseen = [lang for lang in languages if not _text_column(root, f"caption-{lang}", ("train",))]
    return {"unseen": unseen, "languages": overlap_statistics(evaluation, train)}


def _overlap_section(folder: Path) -> str:
    from .overlap import overlap_table

    overlap = release_overlap(folder)
    return (
        "## Caption overlap with training targets\n\n"
        "Evaluation captions (test + heldout) against every training target of the same language. Exact-sentence "
        "overlap counts captions any of whose sentences, with or without the language prefix, is a training target "
        "sentence; for the unseen (translation-only) languages it must be 0, or captioning there is recall. 4-gram "
        "overlap is the share of caption word 4-grams (character 4-grams for zh) found in training targets.\n\n"
        f"{overlap_table(overlap['languages'], overlap['unseen'])}\n\n"
    )


def build_scenes_release(
    out_dir: str | os.PathLike,
    config,
    *,
    num_train: int,
    num_eval: int = 200,
    rows_per_shard: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> dict[tuple[str, str], int]:
    """Render the Florenz-Scenes corpus for `config` (a `corpus.ScenesConfig`) into a release folder."""
    from .corpus import make_row

    plan = scenes_plan(config, num_train, num_eval)
    parameters = {
        "generator": "florenz-scenes",
        "scenes_config": dataclasses.asdict(config),
        "num_train": num_train,
        "num_eval": num_eval,
    }
    return write_release(
        out_dir,
        plan,
        lambda split, key, index: make_row(config, split, key, index),
        mixture_keys=sorted(config.train_keys()),
        parameters=parameters,
        title="Florenz-Scenes",
        description=(
            "Procedurally generated scenes (shapes, colours, sizes, spatial relations) with linguistically correct "
            "captions and En→X translations in six languages, under the incomplete-coverage design of Florenz: "
            "translations exist for every target language, captions for train only in the covered caption languages. "
            "Eval splits: `test` (in-distribution scenes) and `heldout` (colour×shape pairs never seen in training)."
        ),
        sources=[("Florenz-Scenes procedural generator (`dataset_builder.corpus`), seed-deterministic", "MIT")],
        license="mit",
        rows_per_shard=rows_per_shard,
        progress=progress,
        card_sections=_overlap_section,
    )


def release_summary(folder: str | os.PathLike) -> dict:
    """Configs, splits, row counts (from Parquet footers, no image decoding), distinct rows per split (the
    task×language configs; the mixture config reuses their files) and the coverage matrix of a release."""
    from huggingface_hub import DatasetCard

    root = Path(folder)
    readme = root / "README.md"
    if not readme.is_file():
        raise FileNotFoundError(f"{str(readme)!r} not found: not a finished release folder")
    configs = DatasetCard.load(readme).data.configs or []
    counts: dict[str, dict[str, int]] = {}
    for config in configs:
        for entry in config["data_files"]:
            patterns = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
            files = sorted({f for pattern in patterns for f in glob.glob(str(root / pattern))})
            counts.setdefault(config["config_name"], {})[entry["split"]] = sum(
                pq.read_metadata(f).num_rows for f in files
            )
    manifest_path = root / MANIFEST_NAME
    has_captions = any(name.startswith("caption-") for name in counts)
    rows: dict[str, int] = {}
    for name, splits in counts.items():
        if name != MIXTURE_CONFIG:  # the mixture's files are the task×language files again
            for split, count in splits.items():
                rows[split] = rows.get(split, 0) + count
    return {
        "overlap": release_overlap(root) if has_captions else None,
        "configs": counts,
        "rows": {split: rows[split] for split in SPLIT_ORDER if split in rows},
        "coverage": coverage_matrix({name: list(splits) for name, splits in counts.items()}),
        "parameters": json.loads(manifest_path.read_text(encoding="utf-8"))["parameters"]
        if manifest_path.exists()
        else {},
    }
