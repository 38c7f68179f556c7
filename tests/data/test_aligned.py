"""Real-data pipeline: readers, MT/CLIP loading with tiny local models, retrieval constraints, skips, resume."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from datasets import load_dataset
from PIL import Image

from dataset_builder import aligned
from dataset_builder.release import release_summary

WORDS = [
    "a",
    "an",
    "the",
    "red",
    "blue",
    "green",
    "small",
    "large",
    "circle",
    "square",
    "star",
    "is",
    "on",
    "left",
    "right",
    "of",
    "and",
    "there",
    "it",
    "shows",
    "image",
]
CODES = list(aligned.NLLB_CODES.values())
CAPTIONS = [
    "a red circle",
    "a blue square",
    "a green star",
    "a small red square",
    "a large blue circle",
    "the green circle",
]


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(["<pad>", "<s>", "</s>", "<unk>", *CODES, *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_special_tokens=CODES,
    )


@pytest.fixture(scope="module")
def mt_path(tmp_path_factory) -> Path:
    """A tiny random NLLB-architecture (M2M100) model saved locally; special tokens suppressed so outputs are words."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    torch.manual_seed(0)
    tokenizer = _tokenizer()
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    model = M2M100ForConditionalGeneration(config)
    model.generation_config.suppress_tokens = [0, 1, 2, 3]
    model.generation_config.bad_words_ids = [[4 + i] for i in range(len(CODES))]
    path = tmp_path_factory.mktemp("mt")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    torch.manual_seed(0)
    tokenizer = _tokenizer()
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "pad_token_id": 0,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    path = tmp_path_factory.mktemp("clip")
    CLIPModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return path


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _records() -> list[tuple[str, bytes, str]]:
    good = [(f"{i:04d}", _jpeg((40 * i, 200 - 30 * i, 90)), caption) for i, caption in enumerate(CAPTIONS)]
    broken = ("0100", _jpeg((1, 2, 3))[:40], "a truncated image")  # a cut-off JPEG PIL cannot decode
    garbage = ("0101", b"not an image at all", "garbage bytes")
    no_caption = ("0102", _jpeg((9, 9, 9)), "")
    return good[:3] + [broken] + good[3:] + [garbage, no_caption]


def _write_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        for key, image, caption in _records():
            for name, data in ((f"{key}.jpg", image), (f"{key}.txt", caption.encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _parallel() -> dict[str, list[tuple[str, str]]]:
    return {
        "fr": [
            ("a red circle", "un cercle rouge"),
            ("a blue square", "un carré bleu"),
            ("a green star", "une étoile verte"),
        ],
        "zh": [("a large blue circle", "一个大的蓝色的圆"), ("the green circle", "绿色的圆")],
    }


def test_three_source_formats_read_the_same_records(tmp_path):
    expected = [(image, caption) for _, image, caption in _records()]
    webdataset = [(r.image, r.caption) for r in aligned.read_captions([_write_tar(tmp_path / "shard-0000.tar")])]
    table = pa.table(
        {
            "image": [{"bytes": image, "path": None} for _, image, _ in _records()],
            "caption": [c for *_, c in _records()],
        }
    )
    pq.write_table(table, tmp_path / "captions.parquet")
    parquet = [(r.image, r.caption) for r in aligned.read_captions([tmp_path / "captions.parquet"])]
    folder = tmp_path / "folder"
    folder.mkdir()
    with open(folder / "metadata.jsonl", "w") as handle:
        for key, image, caption in _records():
            (folder / f"{key}.jpg").write_bytes(image)
            handle.write(json.dumps({"file_name": f"{key}.jpg", "caption": caption}) + "\n")
    from_folder = [(r.image, r.caption) for r in aligned.read_captions([folder])]
    assert webdataset == parquet == from_folder == expected
    with pytest.raises(ValueError, match="allowed formats"):
        aligned.read_captions([tmp_path / "captions.csv"])


def test_parallel_corpus_tsv_and_parquet(tmp_path):
    (tmp_path / "en-fr.tsv").write_text(
        "a red circle\tun cercle rouge\n\tempty source\nno tab line\n", encoding="utf-8"
    )
    assert aligned.read_parallel_corpus(tmp_path / "en-fr.tsv") == [("a red circle", "un cercle rouge")]
    pq.write_table(pa.table({"en": ["a star"], "zh": ["星"]}), tmp_path / "en-zh.parquet")
    assert aligned.read_parallel_corpus(tmp_path / "en-zh.parquet") == [("a star", "星")]


def test_attach_by_similarity_top_k_threshold_and_cap():
    similarity = torch.tensor(
        [
            [0.9, 0.8, 0.1],  # sentence 0
            [0.95, 0.2, 0.3],  # sentence 1
            [0.85, 0.7, 0.6],  # sentence 2
            [0.1, 0.2, 0.3],  # sentence 3: below threshold everywhere
        ]
    )
    matches = aligned.attach_by_similarity(similarity, top_k=2, threshold=0.5, per_image_cap=2)
    # image 0 is everyone's favourite but keeps only its two best (sentences 1 and 0); sentence 2 falls back to image 1
    assert [(s, i) for s, i, _ in matches] == [(1, 0), (0, 0), (0, 1), (2, 1)]  # best first
    assert all(score >= 0.5 for *_, score in matches)
    with pytest.raises(ValueError, match="top_k"):
        aligned.attach_by_similarity(similarity, top_k=0)


def test_translator_forces_nllb_language_codes(mt_path):
    translator = aligned.Translator.from_pretrained(mt_path, batch_size=2, max_new_tokens=3)
    seen = []
    original = translator.model.generate

    def spy(**kwargs):
        seen.append(kwargs.get("forced_bos_token_id"))
        return original(**kwargs)

    translator.model.generate = spy
    outputs = translator(CAPTIONS[:3], "de")
    assert len(outputs) == 3 and all(text.split() and set(text.split()) <= set(WORDS) for text in outputs)
    assert seen == [translator.tokenizer.convert_tokens_to_ids("deu_Latn")] * 2  # two batches
    translator(CAPTIONS[:1], "zh")
    assert seen[-1] == translator.tokenizer.convert_tokens_to_ids("zho_Hans")
    with pytest.raises(ValueError, match="allowed"):
        translator(CAPTIONS[:1], "xx")


def test_build_with_clip_retrieval_skips_unreadable_images_and_resumes(tmp_path, mt_path, clip_path):
    tar = _write_tar(tmp_path / "shard-0000.tar")
    translator = aligned.Translator.from_pretrained(mt_path, max_new_tokens=3)
    retriever = aligned.Retriever(
        aligned.ClipEmbedder.from_pretrained(clip_path), mode="image", top_k=2, threshold=-1.0, per_image_cap=1
    )
    out = tmp_path / "release"
    steps: list[tuple[str, int, int | None]] = []
    report = aligned.build_aligned_release(
        out,
        aligned.read_captions([tar]),
        _parallel(),
        retriever=retriever,
        translator=aligned.Translator.from_pretrained(mt_path, max_new_tokens=3, batch_size=4),
        rows_per_shard=4,
        progress=lambda *step: steps.append(step),
    )
    assert report["skipped"] == {"empty_caption": 1, "unreadable_image": 2}
    # progress: the stages in order, each advancing to its total (images read: 9, total unknown while streaming)
    assert [stage for stage in aligned.STAGES if any(step[0] == stage for step in steps)] == list(aligned.STAGES)
    assert [step[0] for step in steps] == sorted((step[0] for step in steps), key=aligned.STAGES.index)
    done = {stage: sum(step[1] for step in steps if step[0] == stage) for stage in aligned.STAGES}
    totals = {stage: {step[2] for step in steps if step[0] == stage} for stage in aligned.STAGES}
    rows = sum(report["rows"].values())
    assert done == {"reading images": 9, "translating captions": 6, "attaching sentences": 5, "writing shards": rows}
    assert totals == {
        "reading images": {None},
        "translating captions": {6},
        "attaching sentences": {5},
        "writing shards": {rows},
    }
    assert [step[1] for step in steps if step[0] == "translating captions"] == [4, 2]  # one step per MT batch
    # the same build without a progress callback writes the same release
    quiet = aligned.build_aligned_release(
        tmp_path / "quiet", aligned.read_captions([tar]), _parallel(), retriever=retriever, translator=translator,
        rows_per_shard=4,
    )  # fmt: skip
    assert quiet == report
    manifests = [json.loads((folder / "florenz_release.json").read_text()) for folder in (out, tmp_path / "quiet")]
    assert manifests[0]["shards"] == manifests[1]["shards"]
    assert report["images_read"] == 9 and report["images_used"] == 6
    assert json.loads((out / aligned.REPORT_NAME).read_text()) == report
    caption_en = load_dataset(str(out), "caption-en", split="train")
    assert sorted(caption_en["target"]) == sorted(CAPTIONS)
    assert caption_en[0]["prompt"] == "The target language is English. What does the image describe?"
    assert caption_en[0]["image"].size == (24, 24)
    caption_de = load_dataset(str(out), "caption-de", split="train")
    assert caption_de.num_rows == 6 and all(caption_de["target"])
    translation_de = load_dataset(str(out), "translation-de", split="train")
    assert sorted(translation_de["source"]) == sorted(CAPTIONS)
    translation_fr = load_dataset(str(out), "translation-fr", split="train")
    # top_k 2, per-image cap 1 (per language): each sentence on at most two images, no image holds two fr sentences
    assert translation_fr.num_rows == report["parallel"]["fr"]["attached"]
    assert 3 <= translation_fr.num_rows <= 6
    assert max(translation_fr["target"].count(t) for t in set(translation_fr["target"])) <= 2
    fr_images = [row["image"].tobytes() for row in translation_fr]
    assert len(set(fr_images)) == len(fr_images)
    assert report["parallel"]["zh"]["attached"] >= 2
    assert "un cercle rouge" in translation_fr["target"]
    coverage = release_summary(out)["coverage"]
    assert "| caption | train only | train only | — |" in coverage  # real data here has no eval splits
    assert all(row["source"] in row["prompt"] for row in translation_fr)
    # resuming a finished build recomputes nothing and rewrites no shard
    shards = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}

    def fail(*args, **kwargs):
        raise AssertionError("model steps must not rerun on resume")

    translator.model.generate = fail
    steps.clear()
    again = aligned.build_aligned_release(
        out, aligned.read_captions([tar]), _parallel(), retriever=retriever, translator=translator, rows_per_shard=4,
        progress=lambda *step: steps.append(step),
    )  # fmt: skip
    assert again == report
    assert steps == [("writing shards", rows, rows)]  # only the stage that runs, already complete
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == shards


def test_bad_language_is_rejected_before_any_work(tmp_path):
    class Boom:
        def encode_texts(self, texts):
            raise AssertionError("no work expected")

    with pytest.raises(ValueError, match="unknown target languages"):
        aligned.build_aligned_release(
            tmp_path / "x", iter(()), {"xx": [("a", "b")]}, retriever=aligned.Retriever(Boom(), mode="caption")
        )
    with pytest.raises(ValueError, match="retrieval mode"):
        aligned.Retriever(Boom(), mode="telepathy")
    assert not (tmp_path / "x").exists()


def test_minilm_aligns_scenes_sentences_to_their_captions(tmp_path):
    """Caption↔sentence retrieval with the real MiniLM embedder on Scenes, where the truth is known: at one index,
    caption-en and translation-fr rows show the same scene (alignment noise 0)."""
    corpus = pytest.importorskip("dataset_builder.corpus")
    config = corpus.ScenesConfig(seed=0, image_size=32, detailed_share=1.0)
    n = 40
    captions = [corpus.make_row(config, "test", "caption-en", i) for i in range(n)]
    translations = [corpus.make_row(config, "test", "translation-fr", i) for i in range(n)]
    assert all(c["scene"].split('"aligned"')[0][:-2] in t["scene"] for c, t in zip(captions, translations))
    retriever = aligned.Retriever(
        aligned.SentenceEmbedder.from_pretrained(), mode="caption", top_k=1, threshold=-1.0, per_image_cap=None
    )
    matches = retriever.attach(
        retriever.index([], [row["target"] for row in captions]), [t["source"] for t in translations]
    )
    precision_at_1 = sum(sentence == image for sentence, image, _ in matches) / n
    print(f"Scenes caption↔sentence precision@1 (MiniLM, n={n}): {precision_at_1:.3f} (chance {1 / n:.3f})")
    assert len(matches) == n
    assert precision_at_1 >= 0.5

    def png(image):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    records = [aligned.CaptionedImage(str(i), png(row["image"]), row["target"]) for i, row in enumerate(captions[:10])]
    pairs = {"fr": [(t["source"], t["target"]) for t in translations[:10]]}
    report = aligned.build_aligned_release(
        tmp_path / "out", records, pairs, retriever=retriever, caption_translation_language=None
    )
    rows = load_dataset(str(tmp_path / "out"), "translation-fr", split="train")
    assert report["parallel"]["fr"]["attached"] == rows.num_rows == 10
    correct = sum(
        png(row["image"]) == records[[t["target"] for t in translations[:10]].index(row["target"])].image
        for row in rows
    )
    assert correct >= 5  # the same retrieval, now through the release: images travel with their pairs


def test_cli_card_and_manifest_name_inputs_without_local_paths(tmp_path, mt_path, clip_path, capsys):
    from florenz_cli import main

    tar = _write_tar(tmp_path / "shard-0000.tar")
    tsv = tmp_path / "en-fr.tsv"
    tsv.write_text("".join(f"{en}\t{fr}\n" for en, fr in _parallel()["fr"]), encoding="utf-8")
    out = tmp_path / "release"
    code = main(["data", "build", "aligned", "--out", str(out), "--captions", str(tar), "--parallel", f"fr={tsv}",
                 "--mt-model", str(mt_path), "--retriever", "image", "--embedder", str(clip_path),
                 "--threshold", "-1", "--rows-per-shard", "4"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    rows = sum(report["rows"].values())
    # one tqdm bar per stage on stderr, the report alone on stdout
    for bar in ("reading images: 9image", "translating captions: ", "6/6", "attaching sentences: ", "3/3"):
        assert bar in captured.err, captured.err
    assert "writing shards: " in captured.err and f"{rows}/{rows}" in captured.err
    assert report == json.loads((out / aligned.REPORT_NAME).read_text())
    for name in ("README.md", "florenz_release.json"):
        text = (out / name).read_text(encoding="utf-8")
        assert str(tmp_path) not in text and str(mt_path) not in text and str(clip_path) not in text, name
    parameters = json.loads((out / "florenz_release.json").read_text())["parameters"]
    assert parameters["captions"] == [
        {"name": "shard-0000.tar", "sha256": hashlib.sha256(tar.read_bytes()).hexdigest()}
    ]
    assert parameters["parallel"]["fr"]["name"] == "en-fr.tsv" and parameters["mt_model"]["name"] == mt_path.name
