"""Benchmark loaders on tiny official-layout fixtures: counts, pairing, quirks, clear errors; Scenes exports."""

from __future__ import annotations

import gzip
import os

import pytest
from datasets import Image

from dataset_builder.benchmarks import coco_karpathy, commute, multi30k, xm3600
from dataset_builder.benchmarks.layout import BenchmarkLayoutError, load_parquet_copy
from tests.data.benchmark_fixtures import (
    COMMUTE_CORRECT,
    COMMUTE_IMAGES,
    COMMUTE_INCORRECT,
    COMMUTE_SRC,
    DE,
    EN,
    FR,
    write_all,
)


@pytest.fixture
def root(tmp_path):
    return write_all(tmp_path / "data")


def _pixel(image):
    return image.convert("RGB").getpixel((20, 20))


def test_multi30k_task1_gzip_plain_and_mscoco(root):
    test16 = multi30k.load_task1(root, "test_2016_flickr", "de")
    assert len(test16) == 4
    assert test16["source"] == [s.strip() for s in EN]  # the edge space of line 2 is stripped
    assert [r[0] for r in test16["references"]] == DE
    # Line i goes with image i of the list (the fixture colours images by position).
    assert _pixel(test16[1]["image"]) == _pixel(multi30k.load_task1(root, "test_2016_flickr", "fr")[1]["image"])
    plain = multi30k.load_task1(root, "test_2017_flickr", "fr")
    assert [r[0] for r in plain["references"]] == FR[:3]
    assert plain[0]["image"].size == (40, 40)
    mscoco = multi30k.load_task1(root, "test_2017_mscoco", "fr")
    assert len(mscoco) == 2 and mscoco["source"] == EN[2:]
    paths = [multi30k.image_path(root, "test_2017_mscoco", n) for n in ("COCO_train2014_000000000011.jpg#101",)]
    assert paths[0] == root / "coco" / "train2014" / "COCO_train2014_000000000011.jpg"
    assert multi30k.mscoco_test_images(root) == {"COCO_train2014_000000000011.jpg", "COCO_val2014_000000000012.jpg"}


def test_multi30k_task2_five_references_per_image(root):
    rows = multi30k.load_task2(root, "test_2016", "en")
    assert len(rows) == 4
    assert all(len(refs) == 5 for refs in rows["references"])
    assert rows[2]["references"] == [f"{EN[2][:-1]} number {n}." for n in range(1, 6)]


def test_multi30k_count_mismatch_names_file_and_expected_count(root):
    path = root / "multi30k" / "data" / "task1" / "raw" / "test_2016_flickr.de.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(DE[:3]) + "\n")
    with pytest.raises(
        BenchmarkLayoutError, match=r"test_2016_flickr\.de\.gz has 3 lines, expected 4 .*official file has 1000"
    ):
        multi30k.load_task1(root, "test_2016_flickr", "de")


def test_multi30k_missing_files_and_images_are_named(root):
    os.remove(root / "multi30k" / "data" / "task1" / "raw" / "test_2016_flickr.fr.gz")
    with pytest.raises(BenchmarkLayoutError, match=r"missing file .*test_2016_flickr\.fr\.gz"):
        multi30k.load_task1(root, "test_2016_flickr", "fr")
    os.remove(root / "multi30k" / "task1_test_2017" / "4001_ab1c.jpg")
    with pytest.raises(BenchmarkLayoutError, match=r"1 of 3 images listed in .*test_2017_flickr\.txt are missing"):
        multi30k.load_task1(root, "test_2017_flickr", "de")
    os.remove(root / "multi30k" / "data" / "task2" / "raw" / "test_2016.3.de.gz")
    with pytest.raises(BenchmarkLayoutError, match=r"numbered 1\.\.N without gaps"):
        multi30k.load_task2(root, "test_2016", "de")
    with pytest.raises(ValueError, match="allowed: train, val, test_2016_flickr"):
        multi30k.load_task1(root, "test_2019", "de")


def test_commute_pairs_quirks_and_non_swap_pair(root):
    rows = commute.load_commute(root, "fr")
    assert len(rows) == 10
    assert rows["source"] == COMMUTE_SRC and rows["correct"] == COMMUTE_CORRECT
    assert rows["incorrect"] == COMMUTE_INCORRECT
    assert rows["correct"][3].endswith(" ")  # trailing spaces kept verbatim
    assert rows["pair"] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert rows["swap_pair"] == [True, True, True, True, False, False, True, True, False, False]
    raw = rows.cast_column("image", Image(decode=False))
    assert [os.path.basename(r["image"]["path"]) for r in raw] == COMMUTE_IMAGES  # .jpeg/.png/.jpg used verbatim
    assert {img.format for img in rows["image"]} == {"JPEG", "PNG"}


def test_commute_bad_folders(root):
    folder = root / "CoMMuTE" / "CoMMuTE" / "en-fr"
    (folder / "img.order").write_text("\n".join(COMMUTE_IMAGES[:9]), encoding="utf-8")
    with pytest.raises(BenchmarkLayoutError, match=r"img\.order has 9 lines, expected 10 .*official en-fr has 308"):
        commute.load_commute(root, "fr")
    for name, lines in (
        ("src.en", COMMUTE_SRC),
        ("correct.fr", COMMUTE_CORRECT),
        ("incorrect.fr", COMMUTE_INCORRECT),
        ("img.order", COMMUTE_IMAGES),
    ):
        (folder / name).write_text("\n".join(lines[:7]), encoding="utf-8")
    with pytest.raises(BenchmarkLayoutError, match="expected an even number"):
        commute.load_commute(root, "fr")
    with pytest.raises(BenchmarkLayoutError, match=r"missing folder .*en-de"):
        commute.load_commute(root, "de")


def test_xm3600_all_references_and_errors(root):
    rows = xm3600.load_xm3600(root, "en")
    assert len(rows) == 3
    assert [len(r) for r in rows["references"]] == [2, 1, 3]
    assert rows[2]["id"] == f"{2:016x}"
    with pytest.raises(
        BenchmarkLayoutError, match=r"line 1 .*no 'de' → 'caption' list; languages present: \['en', 'fr', 'zh'\]"
    ):
        xm3600.load_xm3600(root, "de")
    (root / "xm3600" / "captions.jsonl").write_text(
        '{"image/key": "0000000000000000", "en": {"caption": ["x"]}}\nnot json\n'
    )
    with pytest.raises(BenchmarkLayoutError, match="line 2: not an XM3600 record"):
        xm3600.load_xm3600(root, "en")


def test_coco_karpathy_test_split(root):
    rows = coco_karpathy.load_coco_karpathy(root, "test")
    assert len(rows) == 2
    assert len(rows[0]["references"]) == 6 and rows[0]["references"][0] == "A red circle."  # >5 refs, raw stripped
    with pytest.raises(BenchmarkLayoutError, match=r"no images in split\(s\) \['val'\]|missing"):
        os.remove(root / "coco" / "val2014" / "COCO_val2014_000000000005.jpg")
        coco_karpathy.load_coco_karpathy(root, "val")


def test_parquet_copy_round_trip(root, tmp_path):
    rows = multi30k.load_task1(root, "test_2016_flickr", "de")
    folder = tmp_path / "hub-copy" / "data"
    folder.mkdir(parents=True)
    rows.to_parquet(str(folder / "test-00000-of-00001.parquet"))
    copy = load_parquet_copy(str(tmp_path / "hub-copy"), ["id", "image", "source", "references"], language="de")
    assert copy["source"] == rows["source"] and copy["references"] == rows["references"]
    assert copy[0]["image"].size == (40, 40)
    with pytest.raises(BenchmarkLayoutError, match=r"lacks columns \['correct'\]"):
        load_parquet_copy(str(tmp_path / "hub-copy"), ["id", "correct"])


def test_scenes_export_reads_back_in_every_layout(tmp_path):
    from dataset_builder.benchmarks.export import export_benchmarks
    from dataset_builder.corpus import ScenesConfig
    from dataset_builder.release import build_scenes_release

    release = tmp_path / "release"
    build_scenes_release(release, ScenesConfig(image_size=32, max_objects=1), num_train=7, num_eval=6)
    counts = export_benchmarks(release, tmp_path / "root")
    root = tmp_path / "root"
    assert counts["multi30k/task1/test_2016_flickr"] == 6 and counts["xm3600"] == 6
    de, fr = (multi30k.load_task1(root, "test_2017_flickr", lang) for lang in ("de", "fr"))
    assert de["source"] == fr["source"]  # one English file for both targets
    assert len(multi30k.load_task2(root, "test_2016", "de")) == 6
    for lang in ("de", "fr", "es", "ru"):
        rows = commute.load_commute(root, lang)
        assert len(rows) == 6
        swaps = counts[f"commute/en-{lang}/swap_pairs"]
        assert sum(rows["swap_pair"]) == 2 * swaps
        assert not (root / "CoMMuTE" / "CoMMuTE" / f"en-{lang}" / "src.en").read_bytes().endswith(b"\n")
    for lang in ("en", "de", "fr", "es", "ru", "zh"):
        refs = xm3600.load_xm3600(root, lang)["references"]
        assert len(refs) == 6 and not any(r[0].startswith(("The image shows", "Das Bild zeigt", "图为")) for r in refs)
    assert len(coco_karpathy.load_coco_karpathy(root, "test")) == 6
    with pytest.raises(FileExistsError, match="not empty"):
        export_benchmarks(release, root)
