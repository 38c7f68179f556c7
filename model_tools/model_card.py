"""The model card (`README.md`) of every saved Florenz model folder, built with `huggingface_hub.ModelCard`.

The card's YAML carries the Hub fields (`library_name`, `pipeline_tag`, languages, license, tags, datasets,
`base_model`, a `model-index` whose numbers are the run's own evaluation values) plus a `florenz:` block with what the
card was made from (preset, origin, coverage, training budget, results). That block lets `florenz release` rebuild the
card with Hub repo ids and lets the demo mark the caption languages the model was trained on.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")
LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ru": "Russian",
    "zh": "Chinese",
}
TAGS = ["florenz", "florence-2", "vision-language", "multilingual", "image-captioning", "translation", "custom_code"]
CARD_NAME = "README.md"
EVAL_DATASET_NAME = "Florenz-Scenes test split"

# runs.csv column -> (model-index metric type, label). Groups: seen = caption languages trained on, unseen = languages
# that only appeared as translation targets; "prefix" = the decoder was forced to start with the language prefix.
_GROUP_NAMES = {"seen": "trained caption languages", "unseen": "translation-only languages"}
RESULT_LABELS: dict[str, tuple[str, str]] = {
    "ce_seen_caption": ("cross_entropy", "Caption CE, trained caption languages (nats/token)"),
    "ce_unseen_caption": ("cross_entropy", "Caption CE, translation-only languages (nats/token)"),
    "ce_translation": ("cross_entropy", "Translation CE (nats/token)"),
    "ce_gap_seen": ("grounding_gap", "Shuffled-image CE gap, trained caption languages (nats/token)"),
    "ce_gap_unseen": ("grounding_gap", "Shuffled-image CE gap, translation-only languages (nats/token)"),
    **{
        f"{metric}_{group}_{tag}": (
            kind,
            f"{label}, {_GROUP_NAMES[group]}, {'with' if tag == 'prefix' else 'without'} language prefix",
        )
        for metric, kind, label in (
            ("bleu", "bleu", "Caption BLEU"),
            ("cider", "cider", "Caption CIDEr"),
            ("lang_share", "language_share", "Share of captions in the target language"),
        )
        for group in ("seen", "unseen")
        for tag in ("noprefix", "prefix")
    },
    "acc_disambiguation": ("accuracy", "Scenes-CoMMuTE accuracy (image-consistent translation preferred)"),
}

USAGE = """```python
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

model_id = {model_id!r}
model = AutoModelForImageTextToText.from_pretrained(model_id, trust_remote_code=True)
processor = AutoProcessor.from_pretrained(model_id, trust_remote_code=True)
image = Image.new("RGB", (96, 96), "white")  # your picture: Image.open("photo.jpg")

inputs = processor(images=image, task="caption", language="fr", prefix=True, return_tensors="pt")
print(processor.batch_decode(model.generate(**inputs, max_new_tokens=32, num_beams=4), skip_special_tokens=True))

inputs = processor(images=image, task="translate", language="de", text="A red circle.", return_tensors="pt")
print(processor.batch_decode(model.generate(**inputs, max_new_tokens=32, num_beams=4), skip_special_tokens=True))
```"""


def base_models(*sources: str | os.PathLike, preset: str | None = None) -> list[str]:
    """Hub ids of the upstream checkpoints a model starts from, where one is known: local folders named like the
    upstream repos (`Florence-2-base`, `gemma-2-2b`) and the bundled Gemma-3 270M GGUF."""
    ids = ["google/gemma-3-270m"] if preset == "florenz-nano" else []
    for source in sources:
        name = Path(source).name
        if str(source) == "bundled":
            ids.append("google/gemma-3-270m")
        elif name.startswith("Florence-2-"):
            ids.append(f"microsoft/{name}")
        elif name.startswith("gemma-"):
            ids.append(f"google/{name}")
    return list(dict.fromkeys(ids))


def _results(results: Mapping[str, Any]) -> dict[str, float]:
    """The known result columns with finite values, as floats (runs.csv stores them as text)."""
    out = {}
    for column in RESULT_LABELS:
        value = results.get(column)
        if value in (None, ""):
            continue
        value = float(value)
        if math.isfinite(value):
            out[column] = value
    return out


def _languages(codes: Sequence[str]) -> str:
    return ", ".join(f"{LANGUAGE_NAMES[c]} ({c})" for c in codes) or "none"


def build_model_card(
    model_id: str,
    summary: str,
    preset: str | None = None,
    base_model: Sequence[str] = (),
    datasets: Sequence[str] = (),
    caption_languages: Sequence[str] = (),
    translation_languages: Sequence[str] = (),
    training: Mapping[str, Any] | None = None,
    results: Mapping[str, Any] | None = None,
    license: str = "mit",
) -> ModelCard:
    """A card for a model folder or Hub repo `model_id` (what the usage snippet loads).

    `summary` says where the weights come from; `caption_languages` / `translation_languages` are the training
    coverage (empty for untrained weights); `training` holds the budget (seen samples, batch size, dataset…);
    `results` maps runs.csv columns to values — only columns named in `RESULT_LABELS` enter the model-index.
    """
    unknown = sorted((set(caption_languages) | set(translation_languages)) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"unknown languages {unknown}; allowed: {list(LANGUAGES)}")
    training = dict(training or {})
    values = _results(results or {})
    name = model_id.rstrip("/").split("/")[-1]
    dataset_id = datasets[0] if datasets else "florenz-scenes"
    eval_results = [
        EvalResult(
            task_type="image-text-to-text",
            task_name="Multilingual captioning and translation",
            dataset_type=dataset_id,
            dataset_name=EVAL_DATASET_NAME,
            dataset_split="test",
            metric_type=RESULT_LABELS[column][0],
            metric_name=RESULT_LABELS[column][1],
            metric_value=value,
        )
        for column, value in values.items()
    ]
    florenz = {
        "preset": preset,
        "summary": summary,
        "caption_languages": list(caption_languages),
        "translation_languages": list(translation_languages),
        "training": training,
        "results": values,
    }
    data = ModelCardData(
        language=list(LANGUAGES),
        license=license,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        tags=TAGS,
        datasets=list(datasets) or None,
        base_model=list(base_model) or None,
        model_name=name if eval_results else None,
        eval_results=eval_results or None,
        florenz=florenz,
    )
    lines = [f"# {name}", "", summary, ""]
    lines += [
        (
            "Florenz is a multilingual encoder–decoder vision-language model: Florence-2's DaViT vision tower and BART "
            "encoder with a decoder that speaks the Gemma vocabulary. It captions images and translates English text "
            "in English, German, French, Spanish, Russian and Chinese."
        ),
        "",
        f"- Preset: `{preset or 'custom'}`",
    ]
    if caption_languages or translation_languages:
        unseen = [c for c in LANGUAGES if c not in caption_languages]
        lines += [
            f"- Captions seen in training: {_languages(caption_languages)}",
            f"- Translation targets seen in training (from English): {_languages(translation_languages)}",
            (
                f"- Caption languages never trained on (captions there can only transfer from translation): "
                f"{_languages(unseen)}"
            ),
        ]
    else:
        lines.append("- Not trained: the weights are as initialised or converted.")
    for key, value in training.items():
        lines.append(f"- {key.replace('_', ' ').capitalize()}: {value}")
    if values:
        lines += ["", f"## Evaluation ({EVAL_DATASET_NAME})", "", "| metric | value |", "|---|---|"]
        lines += [f"| {RESULT_LABELS[column][1]} | {value:.4g} |" for column, value in values.items()]
    lines += [
        "",
        "## Usage",
        "",
        (
            "The language prefix (`prefix=True`) makes the decoder start in the target language, which is what switches "
            "on captions in languages the model only saw as translation targets."
        ),
        "",
        USAGE.format(model_id=model_id),
        "",
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def write_model_card(folder: str | os.PathLike, card: ModelCard) -> Path:
    """Write `card` as `folder/README.md` atomically (temp file, then rename), readable like a normal write."""
    path = Path(folder) / CARD_NAME
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".README-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(str(card))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return path


def card_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    """The `florenz:` block of a folder's card ({} when the folder has no card or the card has no block)."""
    path = Path(folder) / CARD_NAME
    if not path.exists():
        return {}
    return dict(ModelCard.load(path).data.to_dict().get("florenz") or {})


def rebuild_model_card(folder: str | os.PathLike, model_id: str, datasets: Sequence[str] = ()) -> ModelCard:
    """The folder's card rebuilt for a new `model_id` (e.g. a Hub repo) and dataset ids, keeping everything else."""
    path = Path(folder) / CARD_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; every saved Florenz model folder has a model card")
    data = ModelCard.load(path).data.to_dict()
    info = data.get("florenz") or {}
    base_model = data.get("base_model") or []
    return build_model_card(
        model_id=model_id,
        summary=info.get("summary", ""),
        preset=info.get("preset"),
        base_model=[base_model] if isinstance(base_model, str) else base_model,
        datasets=list(datasets) or data.get("datasets") or (),
        caption_languages=info.get("caption_languages", ()),
        translation_languages=info.get("translation_languages", ()),
        training=info.get("training"),
        results=info.get("results"),
        license=data.get("license", "mit"),
    )
