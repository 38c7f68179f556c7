"""Release layout: a folder that *is* a Hub dataset repo (Parquet shards + README `configs:` + dataset card).

datasets ≥ 4 loads no scripts (stack-notes §4), so the release is plain Parquet under
``data/<config>/<split>-XXXXX-of-YYYYY.parquet`` with `Image` features embedded, one config per task×language key
(``caption-fr``, ``translation-zh``, ``disambiguation-de``…) and a mixed ``pretrain`` config whose data files are the
covered keys' shards (no duplicated bytes). ``load_dataset(folder, "caption-fr")`` works offline.

Guarantees:
- byte-identical output for identical parameters: rows are a pure function of (split, key, index), images are encoded
  by `datasets.Image` (PNG), Parquet is written by pyarrow with fixed options and no timestamps;
- a shard is written to a hidden temp file and `os.replace`d into place, so a visible shard is always complete;
- the manifest (``florenz_release.json``) pins the parameters and records every shard's row count, byte size and
  sha256 as soon as the shard is written; a build (first, resumed or repeated) keeps only shards that match their
  record and re-writes every other one (missing, truncated, bit-flipped, interrupted before being recorded);
- while shards are being written README.md is a placeholder whose YAML makes `load_dataset` fail with "this Florenz
  release is unfinished …"; the real card is written last, so an unfinished release never loads as if complete;
- the card's per-config `dataset_info` holds the exact row counts (datasets then refuses a split whose files lost
  rows) and each config's `description` carries the release's content fingerprint, which `datasets` hashes into its
  cache key: two releases in folders of the same name load their own rows through the plain
  `load_dataset(path, config)` with the shared cache.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
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
# String columns that only some tasks use: an empty value is written as null ("does not apply").
OPTIONAL_COLUMNS = ("source", "scene", "target_incorrect")
_PINNED_KEYS = ("parameters", "rows_per_shard", "plan", "mixture_keys")
UNFINISHED_KEY = "unfinished"

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


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_shard(path: Path, rows: list[Mapping]) -> dict:
    """Encode rows with `FEATURES`, write them atomically (hidden temp name, then `os.replace`); returns the record
    the manifest keeps for the shard (rows, bytes, sha256 of the file, Arrow bytes for the card's `dataset_info`)."""
    encoded = [
        FEATURES.encode_example(
            {name: (None if name in OPTIONAL_COLUMNS and row[name] == "" else row[name]) for name in FEATURES}
        )
        for row in rows
    ]
    table = pa.Table.from_pylist(encoded, schema=FEATURES.arrow_schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, compression="snappy")
        record = {
            "num_rows": table.num_rows,
            "bytes": os.path.getsize(tmp),
            "sha256": _sha256(Path(tmp)),
            "arrow_bytes": table.nbytes,
        }
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return record


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def ensure_writable(out_dir: str | os.PathLike, argument: str = "output folder") -> Path:
    """Create `out_dir` and prove it writable before any generation or training work starts."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        shown = repr(str(out))
        shown = shown if len(shown) <= 200 else f"{shown[:200]}…"
        raise ValueError(f"{argument} {shown} is not writable: {err.strerror or type(err).__name__}") from err
    return out


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The release manifest of `folder`, None when there is none; a damaged manifest is an error naming the file."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"release manifest {str(path)!r} is unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(manifest, dict) or any(key not in manifest for key in _PINNED_KEYS):
        raise ValueError(f"release manifest {str(path)!r} lacks the keys {list(_PINNED_KEYS)}")
    return manifest


def _check_manifest(out: Path, pinned: dict) -> dict | None:
    """Refuse to resume into a folder built with other parameters, or to write into an unrelated non-empty folder;
    returns the existing manifest (None for a fresh folder)."""
    previous = read_manifest(out)
    if previous is not None:
        if {key: previous[key] for key in _PINNED_KEYS} != pinned:
            raise ValueError(
                f"{str(out)!r} holds a release built with different parameters ({MANIFEST_NAME} differs); "
                "use an empty folder or the original parameters to resume"
            )
    elif any(not entry.name.startswith(".") for entry in out.iterdir()):
        raise ValueError(f"output folder {str(out)!r} is not empty and holds no {MANIFEST_NAME}; use an empty folder")
    return previous


def _manifest_layout(manifest: Mapping) -> dict[str, int]:
    """Every shard the manifest's plan implies: relative path → row count."""
    layout = {}
    for name, count in manifest["plan"].items():
        key, split = name.rsplit("/", 1)
        for relative, indices in shard_layout(key, split, count, manifest["rows_per_shard"]):
            layout[relative] = len(indices)
    return layout


def shard_problem(folder: Path, relative: str, record: Mapping | None, num_rows: int) -> str | None:
    """Why the shard at `relative` does not match its manifest record (None when it does): missing, never recorded,
    another size, another sha256 (a flipped bit anywhere), an unreadable footer or another row count."""
    path = folder / relative
    if not path.is_file():
        return f"{relative} is missing"
    if record is None:
        return f"{relative} has no record in {MANIFEST_NAME} (its build was interrupted)"
    size = path.stat().st_size
    if size != record["bytes"]:
        return f"{relative} has {size} bytes, the manifest records {record['bytes']}"
    if _sha256(path) != record["sha256"]:
        return f"{relative} has another sha256 than the manifest records (damaged file)"
    try:
        rows = pq.read_metadata(path).num_rows
    except (pa.ArrowException, OSError) as err:  # a damaged footer
        return f"{relative} is not readable Parquet ({type(err).__name__})"
    if rows != num_rows or record["num_rows"] != num_rows:
        return f"{relative} holds {rows} rows, the plan has {num_rows}"
    return None


def release_problems(folder: str | os.PathLike) -> list[str]:
    """Everything that makes `folder` not a complete, intact release (empty list for a good one).

    Checks the manifest, the final card, every planned shard (presence, bytes, sha256, footer row count)
    and that no stray Parquet file under `data/` would be picked up by a config's patterns.
    """
    root = Path(folder)
    if not root.is_dir():
        return [f"{str(root)!r} is not a folder"]
    manifest = read_manifest(root)
    if manifest is None:
        return [f"{str(root)!r} holds no {MANIFEST_NAME}: not a Florenz release"]
    layout = _manifest_layout(manifest)
    records = manifest.get("shards", {})
    problems = [
        problem
        for relative, num_rows in sorted(layout.items())
        if (problem := shard_problem(root, relative, records.get(relative), num_rows)) is not None
    ]
    if not manifest.get("complete"):
        done = sum(relative in records for relative in layout)
        problems.insert(0, f"the release is unfinished ({done} of {len(layout)} shards recorded): the build stopped")
    readme = root / "README.md"
    if not readme.is_file():
        problems.append("README.md (the dataset card) is missing")
    elif _is_placeholder_card(readme):
        problems.append("README.md is the placeholder of an unfinished build")
    stray = sorted(
        path.relative_to(root).as_posix()
        for path in (root / "data").rglob("*.parquet")
        if path.relative_to(root).as_posix() not in layout
    )
    problems.extend(f"{relative} is not part of the release (it would be loaded as extra rows)" for relative in stray)
    return problems


def _is_placeholder_card(readme: Path) -> bool:
    import yaml
    from huggingface_hub import DatasetCard

    try:
        configs = DatasetCard.load(readme).data.configs or []
    except (ValueError, OSError, yaml.YAMLError):  # an unparsable card is not the placeholder
        return False
    return any(
        isinstance(config.get("data_files"), dict) and UNFINISHED_KEY in config["data_files"] for config in configs
    )


def check_release(folder: str | os.PathLike) -> None:
    """Raise a ValueError naming the damaged or missing files unless `folder` is a complete, intact release."""
    problems = release_problems(folder)
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise ValueError(
            f"release {str(folder)!r} is incomplete or damaged: {shown}. Run the same `florenz data build` again to "
            "re-write the affected shards"
        )


def _write_placeholder_card(out: Path, configs: Sequence[str], done: int, total: int) -> None:
    """README.md during a build: each config's `data_files` is a message, so `load_dataset` fails with it."""
    message = (
        f"this Florenz release is unfinished ({done} of {total} shards written); "
        "run the same florenz data build again to finish it"
    )
    yaml_configs = [{"config_name": name, "data_files": {UNFINISHED_KEY: message}} for name in configs]
    from huggingface_hub import DatasetCardData

    card = DatasetCardData(configs=yaml_configs).to_yaml()
    _write_text_atomic(out / "README.md", f"---\n{card}\n---\n\n# Unfinished release\n\n{message}.\n")


def _write_manifest(out: Path, manifest: Mapping) -> None:
    _write_text_atomic(out / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _key_language(key: str) -> str:
    return key.rsplit("-", 1)[-1]


def _config_keys(plan: Mapping[tuple[str, str], int], mixture_keys: Sequence[str]) -> dict[str, list[str]]:
    """Config name → the task×language keys whose tables it reads."""
    return {MIXTURE_CONFIG: list(mixture_keys), **{key: [key] for key in sorted({key for key, _ in plan})}}


def _configs_yaml(plan: Mapping[tuple[str, str], int], mixture_keys: Sequence[str], fingerprint: str) -> list[dict]:
    """`configs:` of the card. `description` is a BuilderConfig field that `datasets` hashes into the cache key of a
    local folder (which otherwise depends only on the folder name and these patterns), so it carries the content
    fingerprint."""
    keys = sorted({key for key, _ in plan})
    configs = [
        {
            "config_name": MIXTURE_CONFIG,
            "default": True,
            "description": f"pre-training mixture of {', '.join(mixture_keys)}; release {fingerprint}",
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
                "description": f"{key}; release {fingerprint}",
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


def release_fingerprint(records: Mapping[str, Mapping]) -> str:
    """sha256 over every shard's path and sha256: equal fingerprints mean byte-identical data."""
    digest = hashlib.sha256()
    for relative in sorted(records):
        digest.update(f"{relative}\t{records[relative]['sha256']}\n".encode())
    return digest.hexdigest()[:16]


def size_category(num_rows: int) -> str:
    """The Hub's `size_categories` bucket of a row count."""
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if num_rows < bound:
            return label
    for bound, label in ((10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")):
        if num_rows < bound:
            return label
    return "1B<n<10B"


def _dataset_info(
    plan: Mapping[tuple[str, str], int],
    mixture_keys: Sequence[str],
    records: Mapping[str, Mapping],
    rows_per_shard: int,
) -> list[dict]:
    """The card's `dataset_info`: features and per-split row counts (datasets checks these when it loads a split)."""
    feature_yaml = FEATURES._to_yaml_list()
    infos = []
    for config, keys in _config_keys(plan, mixture_keys).items():
        splits, download_size = [], 0
        for split in SPLIT_ORDER:
            shards = [
                records[relative]
                for key in keys
                if (key, split) in plan
                for relative, _ in shard_layout(key, split, plan[key, split], rows_per_shard)
            ]
            if shards:
                splits.append(
                    {
                        "name": split,
                        "num_bytes": sum(r["arrow_bytes"] for r in shards),
                        "num_examples": sum(r["num_rows"] for r in shards),
                    }
                )
                download_size += sum(r["bytes"] for r in shards)
        infos.append(
            {
                "config_name": config,
                "features": feature_yaml,
                "splits": splits,
                "download_size": download_size,
                "dataset_size": sum(split["num_bytes"] for split in splits),
            }
        )
    return infos


def _dataset_card(
    plan: Mapping[tuple[str, str], int],
    mixture_keys: Sequence[str],
    records: Mapping[str, Mapping],
    *,
    title: str,
    description: str,
    sources: Sequence[tuple[str, str]],
    source_datasets: Sequence[str],
    license: str,
    parameters: Mapping,
    rows_per_shard: int,
    sections: str = "",
) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData

    languages = sorted({_key_language(key) for key, _ in plan})
    tasks = {key.rsplit("-", 1)[0] for key, _ in plan}
    data = DatasetCardData(
        language=languages,
        license=license,
        pretty_name=title,
        multilinguality="multilingual" if len(languages) > 1 else "monolingual",
        size_categories=[size_category(sum(plan.values()))],
        source_datasets=list(source_datasets),
        task_categories=["image-to-text"] + (["translation"] if tasks & {"translation", "disambiguation"} else []),
        tags=["florenz", "multilingual", "image-captioning", "multimodal-translation"],
        configs=_configs_yaml(plan, mixture_keys, release_fingerprint(records)),
        dataset_info=_dataset_info(plan, mixture_keys, records, rows_per_shard),
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
`target`, `scene` (scene graph JSON, Scenes only), `target_incorrect` (disambiguation rows only); a column that
does not apply to a row is null. `florenz data verify DIR` checks every shard against `{MANIFEST_NAME}` (row counts and
sha256).

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
    source_datasets: Sequence[str] = ("original",),
    rows_per_shard: int = 1000,
    progress: Callable[[str], None] | None = None,
    card_sections: Callable[[Path], str] | None = None,
) -> dict[tuple[str, str], int]:
    """Write, resume or repair a release: ``plan`` maps (config key, split) to a row count; ``make_row(split, key,
    index)`` returns one row. Returns the plan's counts. Shards matching their manifest record are kept, all others
    (missing, damaged, never recorded) are written; the card is written last.
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
    pinned = {
        "parameters": json.loads(json.dumps(parameters, sort_keys=True)),
        "rows_per_shard": rows_per_shard,
        "plan": {f"{key}/{split}": count for (key, split), count in sorted(plan.items())},
        "mixture_keys": list(mixture_keys),
    }
    previous = _check_manifest(out, pinned)
    layout = _manifest_layout(pinned)
    records = dict((previous or {}).get("shards", {}))
    todo = [
        relative
        for relative, num_rows in sorted(layout.items())
        if shard_problem(out, relative, records.get(relative), num_rows) is not None
    ]
    for relative in todo:
        records.pop(relative, None)
    manifest = {**pinned, "shards": records, "complete": False}
    config_names = [MIXTURE_CONFIG, *sorted({key for key, _ in plan})]
    if todo or not (previous or {}).get("complete") or not (out / "README.md").is_file():
        _write_placeholder_card(out, config_names, len(layout) - len(todo), len(layout))
        _write_manifest(out, manifest)
    shards_of = {
        relative: (key, split, indices)
        for (key, split), num_rows in plan.items()
        for relative, indices in shard_layout(key, split, num_rows, rows_per_shard)
    }
    for relative in todo:
        key, split, indices = shards_of[relative]
        rows = []
        for index in indices:
            row = make_row(split, key, index)
            if row["language"] != _key_language(key):
                raise ValueError(
                    f"row {split}/{key}/{index} has language {row['language']!r}, not {_key_language(key)!r}"
                )
            rows.append(row)
        records[relative] = _write_shard(out / relative, rows)
        _write_manifest(out, manifest)
        if progress is not None:
            progress(relative)
    manifest["complete"] = True
    _write_manifest(out, manifest)
    card = _dataset_card(
        plan,
        mixture_keys,
        records,
        title=title,
        description=description,
        sources=sources,
        source_datasets=source_datasets,
        license=license,
        parameters=pinned["parameters"],
        rows_per_shard=rows_per_shard,
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
    task×language configs; the mixture config reuses their files) and the coverage matrix of a release; refuses an
    unfinished or damaged release (every shard is checked against the manifest first)."""
    from huggingface_hub import DatasetCard

    root = Path(folder)
    readme = root / "README.md"
    if not readme.is_file() and not (root / MANIFEST_NAME).is_file():
        raise FileNotFoundError(f"{str(readme)!r} not found: not a finished release folder")
    check_release(root)  # sha256 of every shard: a flipped bit must not pass as a release
    configs = DatasetCard.load(readme).data.configs or []
    counts: dict[str, dict[str, int]] = {}
    for config in configs:
        for entry in config["data_files"]:
            patterns = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
            files = sorted({f for pattern in patterns for f in glob.glob(str(root / pattern))})
            counts.setdefault(config["config_name"], {})[entry["split"]] = sum(
                pq.read_metadata(f).num_rows for f in files
            )
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
        "parameters": read_manifest(root)["parameters"],
    }
