"""`florenz finetune`: the generalist fine-tune (FlorenzSFTConfig) on downstream training data in official layouts.

Sources (each optional, whatever exists under the data root):

- Multi30K task 1 `train`: en→de and en→fr translation pairs (key `translation-<lang>`);
- Multi30K task 2 `train`: five English and five German captions per image (`caption-en`, `caption-de`);
- COCO Karpathy `train` + `restval`: every English sentence (`caption-en`), without the images of Multi30K
  test_2017_mscoco (COCO 2014 images that are a Multi30K test set);
- translated captions/translations supplied by the user (`--translated-captions FILE`, jsonl or parquet), one row per
  text with columns `image` (a path, absolute or relative to the file's folder; parquet may embed image bytes),
  `language` (en, de, fr, es, ru, zh), `target`, and optionally `source` (English; non-empty → a translation row)
  and `task` (caption, detailed_caption, more_detailed_caption; default caption).

Rows are drawn uniformly over the 11 task-language keys of the paper's generalist fine-tune (6 caption languages +
5 translation targets); keys with no data are left out of the mix and reported. No evaluation split is ever read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from datasets import Dataset, Features, Image, Value
from huggingface_hub import ModelCard

from dataset_builder.balancing import GENERALIST_FINETUNE_KEYS, uniform_shares
from dataset_builder.benchmarks import coco_karpathy, multi30k
from dataset_builder.benchmarks.layout import BenchmarkLayoutError, check_images

from .config import FlorenzSFTConfig

TRAIN_FEATURES = Features(
    {
        "image": Image(),
        "task": Value("string"),
        "language": Value("string"),
        "source": Value("string"),
        "target": Value("string"),
    }
)
USER_TASKS = ("caption", "detailed_caption", "more_detailed_caption")


def _row(image, task: str, language: str, source: str, target: str) -> dict:
    return {"image": image, "task": task, "language": language, "source": source, "target": target}


def _multi30k_rows(root: Path, excluded: frozenset[str]) -> list[tuple[str, dict]]:
    rows = []
    if "train" in multi30k.task1_available(root):
        for lang in ("de", "fr"):
            for item in multi30k.load_task1(root, "train", lang).cast_column("image", Image(decode=False)):
                rows.append(
                    (
                        f"translation-{lang}",
                        _row(item["image"]["path"], "translate", lang, item["source"], item["references"][0]),
                    )
                )
    if "train" in multi30k.task2_available(root):
        for lang in ("en", "de"):
            for item in multi30k.load_task2(root, "train", lang).cast_column("image", Image(decode=False)):
                for ref in item["references"]:
                    rows.append((f"caption-{lang}", _row(item["image"]["path"], "caption", lang, "", ref)))
    return [(key, row) for key, row in rows if Path(row["image"]).name not in excluded]


def _coco_rows(root: Path, excluded: frozenset[str]) -> list[tuple[str, dict]]:
    if not (root / "coco" / "annotations").is_dir():
        return []
    images = coco_karpathy.read_images(root, ("train", "restval"))
    kept = [image for image in images if image["filename"] not in excluded]
    paths = [coco_karpathy.image_path(root, image["filename"]) for image in kept]
    check_images(paths, coco_karpathy.annotation_file(root))
    return [
        ("caption-en", _row(str(path), "caption", "en", "", sentence["raw"].strip()))
        for image, path in zip(kept, paths)
        for sentence in image["sentences"]
    ]


def _user_rows(path: Path, excluded: frozenset[str]) -> list[tuple[str, dict]]:
    """Rows of a user's translated-captions file (jsonl or parquet), validated with line/row numbers in errors."""
    if not path.is_file():
        raise BenchmarkLayoutError(f"missing file {path} (--translated-captions)")
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise BenchmarkLayoutError(f"{path} line {number}: not JSON ({err})") from err
    elif path.suffix == ".parquet":
        records = Dataset.from_parquet(str(path)).cast_column("image", Image(decode=False)).to_list()
    else:
        raise ValueError(f"--translated-captions {path}: expected a .jsonl or .parquet file")
    rows = []
    for number, record in enumerate(records, start=1):
        where = f"{path} row {number}"
        missing = [name for name in ("image", "language", "target") if not record.get(name)]
        if missing:
            raise BenchmarkLayoutError(f"{where}: missing {missing}; required: image, language, target")
        language, source = record["language"], (record.get("source") or "").strip()
        task = "translate" if source else record.get("task") or "caption"
        if f"caption-{language}" not in GENERALIST_FINETUNE_KEYS or (source and language == "en"):
            raise BenchmarkLayoutError(
                f"{where}: language {language!r} not allowed; captions: en de fr es ru zh, "
                "translations (with source): de fr es ru zh"
            )
        if not source and task not in USER_TASKS:
            raise BenchmarkLayoutError(f"{where}: task {task!r}; allowed: {', '.join(USER_TASKS)}")
        image = record["image"]
        if isinstance(image, dict):  # parquet Image(decode=False): {"bytes", "path"}
            name = Path(image.get("path") or "").name
            image = image if image.get("bytes") else str(path.parent / image["path"])
        else:
            image = str(path.parent / image)
            name = Path(image).name
            if not Path(image).is_file():
                raise BenchmarkLayoutError(f"{where}: image {image} not found")
        if name in excluded:
            continue
        key = f"translation-{language}" if source else f"caption-{language}"
        rows.append((key, _row(image, task, language, source, record["target"].strip())))
    return rows


def finetune_sources(
    data_root: str | Path | None, translated_captions: Sequence[str | Path] = ()
) -> tuple[dict[str, Dataset], list[str]]:
    """{key: Dataset of training rows} over the generalist keys found, and notes (exclusions, empty keys)."""
    root = Path(data_root) if data_root else None
    excluded = multi30k.mscoco_test_images(root) if root else frozenset()
    notes = [f"excluded {len(excluded)} COCO images of Multi30K test_2017_mscoco from all training data"]
    rows: list[tuple[str, dict]] = []
    if root is not None:
        rows += _multi30k_rows(root, excluded)
        rows += _coco_rows(root, excluded)
    for path in translated_captions:
        rows += _user_rows(Path(path), excluded)
    by_key: dict[str, list[dict]] = {}
    for key, row in rows:
        by_key.setdefault(key, []).append(row)
    if not by_key:
        raise ValueError(
            f"no fine-tuning data under {root}: expected multi30k/data/task1|task2 train files, "
            "coco/annotations/coco_karpathy.json, or --translated-captions files"
        )
    empty = [key for key in GENERALIST_FINETUNE_KEYS if key not in by_key]
    if empty:
        notes.append(f"no data for {empty}; the mix is uniform over the other keys")
    sources = {
        key: Dataset.from_list(by_key[key], features=TRAIN_FEATURES)
        for key in GENERALIST_FINETUNE_KEYS
        if key in by_key
    }
    return sources, notes


def finetune(
    config: FlorenzSFTConfig, data_root: str | Path | None, translated_captions: Sequence[str | Path] = ()
) -> Path:
    """Fine-tune `config.model` (a saved model folder), resuming from `output_dir`'s last checkpoint; → final folder."""
    from model_tools.model_card import write_model_card
    from model_tools.model_folder import set_generation_defaults
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
    from modeling_florenz.processing_florenz import FlorenzProcessor, florenz_image_processor

    from .data import ReleaseStream
    from .run import FINAL_DIR, check_lengths, last_complete_checkpoint
    from .trainer import FlorenzSeq2SeqTrainer

    if not (Path(config.model) / "config.json").is_file():
        raise ValueError(f"--model {config.model} is not a saved Florenz model folder (no config.json)")
    sources, notes = finetune_sources(data_root, translated_captions)
    for note in notes:
        print(f"[finetune] {note}", flush=True)
    print(f"[finetune] rows per key: { {key: len(rows) for key, rows in sources.items()} }", flush=True)
    model = FlorenzForConditionalGeneration.from_pretrained(config.model, trust_remote_code=True)
    processor = FlorenzProcessor.from_pretrained(config.model, trust_remote_code=True)
    # The fine-tune runs at its own resolution (the paper: 768 px after 224 px pre-training).
    processor = FlorenzProcessor(
        florenz_image_processor(config.image_size or processor.image_size),
        processor.tokenizer,
        processor.encoder_tokenizer,
    )
    model.config.image_size = processor.image_size  # forward() accepts exactly the processor's size
    check_lengths(model, config, processor.image_size)
    model.apply_freeze_policy(config.freeze_policy)
    shares = {key: share for key, share in uniform_shares(GENERALIST_FINETUNE_KEYS).items() if key in sources}
    stream = ReleaseStream(sources, config.seen_samples, seed=config.seed, shares=shares)
    trainer = FlorenzSeq2SeqTrainer(model=model, args=config, train_dataset=stream, processing_class=processor)
    trainer.train(resume_from_checkpoint=last_complete_checkpoint(config.output_dir))
    final = Path(config.output_dir) / FINAL_DIR
    set_generation_defaults(trainer.model)
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    write_model_card(final, finetune_card(config, sources, str(final)))
    return final


def finetune_card(config: FlorenzSFTConfig, sources: dict, model_id: str) -> ModelCard:
    """The fine-tuned model's card: coverage from the keys that had data, budget from the config."""
    from model_tools.model_card import build_model_card

    languages = {
        kind: [key.split("-")[1] for key in sources if key.startswith(f"{kind}-")]
        for kind in ("caption", "translation")
    }
    return build_model_card(
        model_id=model_id,
        summary=f"`{Path(config.model).name}` fine-tuned with `florenz finetune` on {', '.join(sorted(sources))}.",
        preset=Path(config.model).name,
        caption_languages=languages["caption"],
        translation_languages=languages["translation"],
        training={
            "seen_samples": config.seen_samples,
            "batch_size": config.per_device_train_batch_size,
            "learning_rate": config.learning_rate,
            "image_size": config.image_size,
            "seed": config.seed,
        },
    )
