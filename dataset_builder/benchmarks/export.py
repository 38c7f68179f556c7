"""Florenz-Scenes evaluation splits written in the four official benchmark layouts, for an offline downstream run.

Mapping (a Scenes release has `test` = in-distribution scenes and `heldout` = colour×shape pairs never trained):

- Multi30K task 1: `test` → test_2016_flickr, `heldout` → test_2017_flickr, en→de/fr. Multi30K needs one English
  file shared by all targets, while a release draws each translation key's sentence separately; the pairs are
  therefore regenerated from the release's manifest (same scene and image as the release rows at that index, one
  sentence plan realised in en, de and fr). No test_2018_flickr / test_2017_mscoco.
- Multi30K task 2: `test` caption-en/de → test_2016, one reference per image (`test_2016.1.<lang>`; officially five).
- CoMMuTE: `test` disambiguation-<lang> → en-<lang> (de, fr, es, ru); rows whose swapped twin (same source, correct
  and incorrect exchanged) exists are written as pairs 2k/2k+1, the rest as non-swap pairs, an odd last row dropped.
- XM3600: `test` caption-<lang> of all six languages → captions.jsonl (the caption rows at one index share an image).
- COCO Karpathy: `heldout` caption-en → the "test" split of coco_karpathy.json.

Caption references lose a leading decoder language prefix ("The image shows …"): real references never start with
it, and the prefix protocol scores captions without those words. Images are JPEG (quality 95) as in the originals,
except CoMMuTE's PNG.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, Image

from modeling_florenz.processing_florenz import LANGUAGE_PREFIXES

from ..corpus import ScenesConfig, _sample, _translation
from ..release import MANIFEST_NAME, check_release
from ..scenes import render

CAPTION_LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")
MULTI30K_LANGUAGES = ("de", "fr")
COMMUTE_LANGUAGES = ("de", "fr", "es", "ru")
MULTI30K_SPLITS = {"test": ("test_2016_flickr", "flickr30k-images"), "heldout": ("test_2017_flickr", "task1_test_2017")}


def _rows(release: Path, key: str, split: str) -> Dataset:
    files = sorted(glob.glob(str(release / "data" / key / f"{split}-*.parquet")))
    if not files:
        raise ValueError(f"release {release} has no {split} split of {key} (data/{key}/{split}-*.parquet)")
    # pyarrow directly: the Hub features (Image) come from the schema metadata, and no Arrow cache is written.
    return Dataset(pa.concat_tables([pq.read_table(f) for f in files])).cast_column("image", Image())


def _strip_prefix(text: str, language: str) -> str:
    prefix = LANGUAGE_PREFIXES[language]
    if not text.startswith(prefix):
        return text
    rest = text[len(prefix) :].strip()
    return rest[:1].upper() + rest[1:]


def _write_lines(path: Path, lines: list[str], gz: bool = True, final_newline: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + ("\n" if final_newline else "")
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wt", encoding="utf-8", compresslevel=6) as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def _save_image(image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        image.convert("RGB").save(path)
    else:
        image.convert("RGB").save(path, quality=95)


def parallel_translation(config: ScenesConfig, split: str, index: int, languages: tuple[str, ...]):
    """(image, English source, {lang: target}) for the scene at `index`: one plan realised in every language."""
    scene_rng = random.Random(f"{config.seed}/{split}/scene/{index}")
    scene = _sample(config, split, scene_rng)
    image = render(scene, scene_rng)
    state = random.Random(f"{config.seed}/{split}/translation-parallel/{index}").getstate()
    sources, targets = set(), {}
    for lang in languages:
        rng = random.Random()
        rng.setstate(state)  # identical draws for every language → the same plan and English sentence
        source, targets[lang], _ = _translation(config, split, scene, lang, rng)
        sources.add(source)
    if len(sources) != 1:
        raise RuntimeError(f"parallel translations of {split}/{index} disagree on the English source: {sources}")
    return image, sources.pop(), targets, scene


def _export_multi30k(release: Path, config: ScenesConfig, plan: dict, root: Path) -> dict[str, int]:
    counts = {}
    task1 = root / "multi30k" / "data" / "task1"
    for split, (name, folder) in MULTI30K_SPLITS.items():
        n = plan.get(f"translation-de/{split}", 0)
        if not n:
            continue
        check = json.loads(_rows(release, "translation-de", split).select([0])["scene"][0])
        names, sources, targets = [], [], {lang: [] for lang in MULTI30K_LANGUAGES}
        for index in range(n):
            image, source, by_lang, scene = parallel_translation(config, split, index, MULTI30K_LANGUAGES)
            if index == 0 and check["objects"] != scene.to_dict()["objects"]:
                raise ValueError(f"release {release} was not built with its manifest's scenes_config (scene 0 differs)")
            image_name = f"{1000000000 + index}.jpg" if split == "test" else f"{index:08d}_scenes.jpg"
            _save_image(image, root / "multi30k" / folder / image_name)
            names.append(image_name)
            sources.append(source)
            for lang in MULTI30K_LANGUAGES:
                targets[lang].append(by_lang[lang])
        _write_lines(task1 / "image_splits" / f"{name}.txt", names, gz=False)
        _write_lines(task1 / "raw" / f"{name}.en", sources)
        for lang in MULTI30K_LANGUAGES:
            _write_lines(task1 / "raw" / f"{name}.{lang}", targets[lang])
        counts[f"multi30k/task1/{name}"] = n
    # Task 2 shares test_2016's images (caption and translation rows at one index show the same scene).
    if "multi30k/task1/test_2016_flickr" in counts:
        task2 = root / "multi30k" / "data" / "task2"
        names = (task1 / "image_splits" / "test_2016_flickr.txt").read_text(encoding="utf-8").split()
        for lang in ("en", "de"):
            rows = _rows(release, f"caption-{lang}", "test")
            if len(rows) != len(names):
                raise ValueError(f"release caption-{lang}/test has {len(rows)} rows, translation-de/test {len(names)}")
            _write_lines(task2 / "raw" / f"test_2016.1.{lang}", [_strip_prefix(t, lang) for t in rows["target"]])
        _write_lines(task2 / "image_splits" / "test_2016_images.txt", names, gz=False)
        counts["multi30k/task2/test_2016"] = len(names)
    return counts


def _pair_order(sources: list[str], correct: list[str], incorrect: list[str]) -> tuple[list[tuple[int, int]], int]:
    """Pairs (i, j) with j the swapped twin of i where one exists, then the rest two by two; and the count of swaps."""
    free = {}
    for i, key in enumerate(zip(sources, correct, incorrect)):
        free.setdefault(key, []).append(i)
    used, pairs = set(), []
    for i, (s, c, w) in enumerate(zip(sources, correct, incorrect)):
        if i in used:
            continue
        twins = [j for j in free.get((s, w, c), []) if j not in used and j != i]
        if twins:
            used.update((i, twins[0]))
            pairs.append((i, twins[0]))
    swaps = len(pairs)
    rest = [i for i in range(len(sources)) if i not in used]
    pairs += list(zip(rest[0::2], rest[1::2]))
    return pairs, swaps


def _export_commute(release: Path, plan: dict, root: Path) -> dict[str, int]:
    counts = {}
    for lang in COMMUTE_LANGUAGES:
        if not plan.get(f"disambiguation-{lang}/test"):
            continue
        rows = _rows(release, f"disambiguation-{lang}", "test")
        sources, correct, incorrect = rows["source"], rows["target"], rows["target_incorrect"]
        pairs, swaps = _pair_order(sources, correct, incorrect)
        order = [i for pair in pairs for i in pair]
        names = [f"scenes-{lang}-{i:05d}.png" for i in order]
        for i, name in zip(order, names):
            _save_image(rows[i]["image"], root / "CoMMuTE" / "images" / name)
        folder = root / "CoMMuTE" / "CoMMuTE" / f"en-{lang}"
        # The official test files end without a final newline.
        for file_name, values in (
            ("src.en", sources),
            (f"correct.{lang}", correct),
            (f"incorrect.{lang}", incorrect),
        ):
            _write_lines(folder / file_name, [values[i] for i in order], gz=False, final_newline=False)
        _write_lines(folder / "img.order", names, gz=False, final_newline=False)
        counts[f"commute/en-{lang}"] = len(order)
        counts[f"commute/en-{lang}/swap_pairs"] = swaps
    return counts


def _export_xm3600(release: Path, plan: dict, root: Path) -> dict[str, int]:
    n = min(plan.get(f"caption-{lang}/test", 0) for lang in CAPTION_LANGUAGES)
    if not n:
        return {}
    captions = {lang: _rows(release, f"caption-{lang}", "test")["target"] for lang in CAPTION_LANGUAGES}
    images = _rows(release, "caption-en", "test")
    lines = []
    for index in range(n):
        key = f"{index:016x}"
        _save_image(images[index]["image"], root / "xm3600" / "images" / f"{key}.jpg")
        record = {"image/key": key, "image/locale": "en"}
        for lang in CAPTION_LANGUAGES:
            text = _strip_prefix(captions[lang][index], lang)
            record[lang] = {
                "caption": [text],
                "caption/tokenized": [text],
                "caption/tokenized/lowercase": [text.lower()],
            }
        lines.append(json.dumps(record, ensure_ascii=False))
    _write_lines(root / "xm3600" / "captions.jsonl", lines, gz=False)
    return {"xm3600": n}


def _export_coco(release: Path, plan: dict, root: Path) -> dict[str, int]:
    if not plan.get("caption-en/heldout"):
        return {}
    rows = _rows(release, "caption-en", "heldout")
    images = []
    for index in range(len(rows)):
        filename = f"COCO_val2014_{index:012d}.jpg"
        _save_image(rows[index]["image"], root / "coco" / "val2014" / filename)
        raw = _strip_prefix(rows[index]["target"], "en")
        sentence = {"tokens": raw.lower().rstrip(".").split(), "raw": raw, "imgid": index, "sentid": index}
        images.append(
            {
                "filepath": "val2014",
                "filename": filename,
                "imgid": index,
                "split": "test",
                "sentences": [sentence],
                "sentids": [index],
                "cocoid": index,
            }
        )
    path = root / "coco" / "annotations" / "coco_karpathy.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "dataset": "coco"}), encoding="utf-8")
    return {"coco-karpathy/test": len(images)}


def export_benchmarks(release: str | os.PathLike, out: str | os.PathLike) -> dict[str, int]:
    """Write the Scenes evaluation splits of `release` under `out` (a data root for `florenz evaluate`); row counts.

    Written to a sibling temp folder and renamed into place, so `out` is either complete or absent.
    """
    release, out = Path(release), Path(out)
    manifest_path = release / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ValueError(f"{release} is not a Florenz release folder (no {MANIFEST_NAME})")
    check_release(release)  # an unfinished or damaged release would export wrong benchmark files
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    parameters = manifest.get("parameters", {})
    if parameters.get("generator") != "florenz-scenes":
        raise ValueError(f"{release} is not a Florenz-Scenes release (generator {parameters.get('generator')!r})")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"output folder {out} is not empty; choose a new or empty folder")
    config = ScenesConfig(**parameters["scenes_config"])
    plan = manifest["plan"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        counts = {}
        counts.update(_export_multi30k(release, config, plan, tmp))
        counts.update(_export_commute(release, plan, tmp))
        counts.update(_export_xm3600(release, plan, tmp))
        counts.update(_export_coco(release, plan, tmp))
        (tmp / "export.json").write_text(
            json.dumps({"release": str(release.resolve()), "counts": counts}, indent=2), encoding="utf-8"
        )
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
