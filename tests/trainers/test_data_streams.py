"""Training and evaluation rows: balanced streams over Scenes and releases, per-release caches."""

from __future__ import annotations

from collections import Counter

import pytest

from dataset_builder.corpus import ScenesConfig
from trainers.config import FlorenzPretrainConfig


def test_release_eval_sets_never_mix_up_releases_in_same_named_folders(tmp_path):
    from dataset_builder.release import build_scenes_release
    from trainers.data import release_eval_sets

    small, large = tmp_path / "a" / "scenes", tmp_path / "b" / "scenes"
    build_scenes_release(small, ScenesConfig(image_size=32), num_train=21, num_eval=3)
    build_scenes_release(large, ScenesConfig(image_size=32), num_train=21, num_eval=5)
    assert len(release_eval_sets(str(small), 10)["caption-fr"]) == 3
    assert len(release_eval_sets(str(large), 10)["caption-fr"]) == 5


def test_generalist_recipe_streams_all_eleven_keys_uniformly(tmp_path):
    from dataset_builder.balancing import GENERALIST_FINETUNE_KEYS
    from trainers.config import FlorenzSFTConfig
    from trainers.run import scenes_corpus_config, training_stream

    args = FlorenzSFTConfig(output_dir=str(tmp_path), seen_samples=44, per_device_train_batch_size=11, use_cpu=True,
                            image_size=64)  # fmt: skip
    assert (args.learning_rate, args.weight_decay, args.balancing) == (5e-5, 0.05, "generalist")
    stream = training_stream(args, scenes_corpus_config(args))
    counts = Counter(key for key, _ in stream.items)
    assert set(counts) == set(GENERALIST_FINETUNE_KEYS) and set(counts.values()) == {4}
    row = stream[[key for key, _ in stream.items].index("caption-fr")]
    assert row["language"] == "fr" and row["task"] in ("caption", "detailed_caption")


def test_pretrain_stream_never_yields_uncovered_captions(tmp_path):
    from trainers.run import scenes_corpus_config, training_stream

    args = FlorenzPretrainConfig(output_dir=str(tmp_path), seen_samples=70, per_device_train_batch_size=7,
                                 use_cpu=True, image_size=64)  # fmt: skip
    keys = {key for key, _ in training_stream(args, scenes_corpus_config(args)).items}
    assert keys == {"caption-en", "caption-de", *(f"translation-{lang}" for lang in ("de", "fr", "es", "ru", "zh"))}


def test_release_stream_yields_balanced_rows_from_its_sources():
    from trainers.data import ReleaseStream

    sources = {"caption-en": ["e0", "e1"], "translation-zh": ["z0", "z1", "z2", "z3"]}
    rows = [ReleaseStream(sources, 8, seed=0)[i] for i in range(8)]
    assert Counter(row[0] for row in rows) == {"e": 4, "z": 4}
    assert set(rows) == {"e0", "e1", "z0", "z1", "z2", "z3"}
    with pytest.raises(ValueError, match="without a source"):
        ReleaseStream(sources, 8, shares={"caption-fr": 1.0})
