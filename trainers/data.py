"""Training and evaluation rows for the trainers: the balanced Scenes stream or a parquet release.

Both training sources are map-style datasets over a fixed, balanced `(key, index)` list of length S (the seen
samples), read in order (`train_sampling_strategy="sequential"`): a resumed run skips exactly the batches it has
already seen, and a smaller budget sees a prefix of a larger one's stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch.utils.data import Dataset

from dataset_builder.balancing import BalancedSampler, uniform_shares
from dataset_builder.corpus import ScenesConfig, eval_keys, make_row


def balanced_items(shares: Mapping[str, float], num_samples: int, seed: int, sizes: Mapping[str, int] | None = None):
    """The global balanced `(key, index)` stream of length `num_samples` (one process's view is taken later)."""
    sampler = BalancedSampler(shares, sizes=sizes, seed=seed, num_samples=num_samples, rank=0, world_size=1)
    return list(sampler.global_stream())


class ScenesStream(Dataset):
    """The first `num_samples` rows of the balanced Florenz-Scenes training stream, rendered on the fly."""

    def __init__(
        self, config: ScenesConfig, num_samples: int, seed: int = 0, shares: Mapping[str, float] | None = None
    ) -> None:
        self.config = config
        self.items = balanced_items(shares or uniform_shares(config.train_keys()), num_samples, seed)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, position: int) -> dict[str, Any]:
        key, index = self.items[position]
        return make_row(self.config, "train", key, index)


class ReleaseStream(Dataset):
    """The balanced stream over a parquet release: `sources[key]` are that key's train rows (e.g. `datasets.Dataset`)."""

    def __init__(
        self,
        sources: Mapping[str, Sequence[Mapping[str, Any]]],
        num_samples: int,
        seed: int = 0,
        shares: Mapping[str, float] | None = None,
    ) -> None:
        shares = shares or uniform_shares(list(sources))
        self.sources = sources
        self.items = balanced_items(shares, num_samples, seed, sizes={key: len(sources[key]) for key in shares})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, position: int) -> Mapping[str, Any]:
        key, index = self.items[position]
        return self.sources[key][index]


def scenes_eval_sets(config: ScenesConfig, split: str, num_rows: int) -> dict[str, list[dict[str, Any]]]:
    """`{key: rows}` for every evaluation key of `split` (captions in all six languages, translations, …)."""
    if num_rows <= 0:
        raise ValueError(f"num_rows must be positive, got {num_rows}")
    return {key: [make_row(config, split, key, i) for i in range(num_rows)] for key in eval_keys(config, split)}


def load_release_config(folder: str, name: str):
    """`load_dataset(folder, name)`: the card's content fingerprint keeps releases in same-named folders apart in the
    shared datasets cache, and nothing is written into the (possibly read-only) release folder."""
    from datasets import load_dataset

    return load_dataset(folder, name)


def release_eval_sets(folder: str, num_rows: int, split: str = "test") -> dict[str, list[dict[str, Any]]]:
    """`{config: first num_rows rows of split}` for every per-key config of a release that has `split`."""
    from datasets import get_dataset_config_names

    from dataset_builder.release import check_release

    check_release(folder)
    sets = {}
    for name in get_dataset_config_names(folder):
        if name == "pretrain":
            continue
        splits = load_release_config(folder, name)
        if split in splits:
            rows = splits[split]
            sets[name] = [rows[i] for i in range(min(num_rows, len(rows)))]
    if not sets:
        raise ValueError(f"release {folder} has no {split!r} split in any config")
    return sets
