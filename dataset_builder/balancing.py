"""Task×language balanced sampling, globally exact.

The paper's loader keeps a greedy deficit counter *per dataloader worker*, so with 15 workers × 8 ranks the mixture
is only approximately balanced. Here one deterministic global schedule decides the key of every
position of the stream; workers and ranks take disjoint strided slices of that same schedule, so the balance holds for
the union of everything that was consumed, whatever the number of workers or ranks.

The schedule satisfies *quota*: after ``n`` draws every key has been drawn ``floor(n·share)`` or ``ceil(n·share)``
times (so strictly within 1 of ``n·share``). It is built by earliest-deadline-first scheduling of the unit "jobs"
"j-th draw of key k", released once ``ceil(n·share) ≥ j`` and due when ``floor(n·share) ≥ j``; EDF is optimal for unit
jobs and a quota-respecting sequence always exists (Balinski & Young's quota method), so EDF never misses a deadline.
Ties are broken by a seeded random priority, which makes the order seed-dependent without affecting the guarantee.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction

import torch
from torch.utils.data import IterableDataset, get_worker_info

from modeling_florenz.processing_florenz import LANGUAGES, TRANSLATION_TARGETS

# Caption languages covered in pre-training: the others appear only as translation targets (incomplete coverage).
PRETRAIN_CAPTION_LANGUAGES = ("en", "de")
# The paper's `task-lang-balancing` keys (captions only in en/de; translations En→X).
PRETRAIN_KEYS = tuple(f"caption-{lang}" for lang in PRETRAIN_CAPTION_LANGUAGES) + tuple(
    f"translation-{lang}" for lang in TRANSLATION_TARGETS
)
# The paper's `generalist_finetune` keys: captions in all six languages plus the five translation directions.
GENERALIST_FINETUNE_KEYS = tuple(f"caption-{lang}" for lang in LANGUAGES) + tuple(
    f"translation-{lang}" for lang in TRANSLATION_TARGETS
)


def uniform_shares(keys: Sequence[str]) -> dict[str, float]:
    """Equal target share for every key (the paper's default for both pre-training and generalist fine-tuning)."""
    if not keys:
        raise ValueError("uniform_shares needs at least one key, got none")
    if len(set(keys)) != len(keys):
        raise ValueError(f"uniform_shares got duplicate keys: {list(keys)}")
    return {key: 1.0 / len(keys) for key in keys}


def _integer_weights(shares: Mapping[str, float]) -> tuple[list[str], list[int], int]:
    """Exact rational shares as integer numerators over a common denominator, so quotas never suffer rounding."""
    if not shares:
        raise ValueError("shares must name at least one key")
    fractions = {}
    for key, weight in shares.items():
        if not isinstance(weight, (int, float, Fraction)) or not weight >= 0 or math.isinf(weight):
            raise ValueError(f"share of {key!r} must be a finite number ≥ 0, got {weight!r}")
        if weight > 0:
            fractions[key] = Fraction(weight).limit_denominator(1_000_000)
    if not fractions:
        raise ValueError(f"at least one share must be positive, got {dict(shares)}")
    denominator = math.lcm(*(f.denominator for f in fractions.values()))
    keys = list(fractions)
    weights = [int(fractions[key] * denominator) for key in keys]
    return keys, weights, sum(weights)


def balanced_schedule(shares: Mapping[str, float], seed: int | str = 0) -> Iterator[str]:
    """Endless, deterministic key sequence whose running counts stay within 1 of ``n · share`` for every key.

    Shares are relative weights (normalised here); keys with weight 0 are never drawn.
    """
    keys, weights, total = _integer_weights(shares)
    rng = random.Random(seed)
    counts = [0] * len(keys)
    n = 0
    while True:
        n += 1
        best, best_rank = -1, None
        for k, (count, weight) in enumerate(zip(counts, weights)):
            if count * total >= n * weight:  # next draw of k not released yet: it would exceed ceil(n·share)
                continue
            deadline = -(-(count + 1) * total // weight)  # ceil((count+1) / share)
            rank = (deadline, rng.random())
            if best_rank is None or rank < best_rank:
                best, best_rank = k, rank
        counts[best] += 1
        yield keys[best]


class BalancedSampler(IterableDataset):
    """Yields ``(key, index)`` pairs following the global balanced schedule, split across workers and ranks.

    ``index`` is the position within the key's own rows: with ``sizes`` given, each pass over a key visits a fresh seeded
    permutation of ``range(sizes[key])`` (an epoch per key); without, it counts up. Stream position ``t`` goes to shard
    ``t mod (world_size · num_workers)`` with shard id ``rank · num_workers + worker_id``, so no pair is produced twice
    and the union of all shards is exactly the global schedule. ``num_samples`` bounds the *global* stream (None: endless).
    """

    def __init__(
        self,
        shares: Mapping[str, float],
        *,
        sizes: Mapping[str, int] | None = None,
        seed: int = 0,
        num_samples: int | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        _integer_weights(shares)  # validate early
        self.shares = dict(shares)
        if sizes is not None:
            missing = [key for key, weight in shares.items() if weight > 0 and sizes.get(key, 0) <= 0]
            if missing:
                raise ValueError(
                    f"sizes must give a positive row count for every key with a positive share; missing: {missing}"
                )
        self.sizes = dict(sizes) if sizes is not None else None
        if num_samples is not None and num_samples < 0:
            raise ValueError(f"num_samples must be ≥ 0 or None, got {num_samples}")
        self.seed = seed
        self.num_samples = num_samples
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.rank = rank if rank is not None else (torch.distributed.get_rank() if distributed else 0)
        self.world_size = (
            world_size if world_size is not None else (torch.distributed.get_world_size() if distributed else 1)
        )
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank must be in [0, world_size={self.world_size}), got {self.rank}")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reseed schedule and permutations for a new epoch (as `DistributedSampler.set_epoch`)."""
        self.epoch = epoch

    def _indices(self, key: str) -> Iterator[int]:
        if self.sizes is None:
            yield from range(2**63)
            return
        rng = random.Random(f"{self.seed}:{self.epoch}:{key}")
        while True:
            order = list(range(self.sizes[key]))
            rng.shuffle(order)
            yield from order

    def global_stream(self) -> Iterator[tuple[str, int]]:
        """All ``(key, index)`` pairs of the stream, before splitting across workers and ranks."""
        schedule = balanced_schedule(self.shares, seed=f"{self.seed}:{self.epoch}")
        indices = {key: self._indices(key) for key in self.shares}
        if self.num_samples is not None:
            schedule = itertools.islice(schedule, self.num_samples)
        for key in schedule:
            yield key, next(indices[key])

    def __iter__(self) -> Iterator[tuple[str, int]]:
        worker = get_worker_info()
        num_workers, worker_id = (worker.num_workers, worker.id) if worker is not None else (1, 0)
        num_shards = self.world_size * num_workers
        shard = self.rank * num_workers + worker_id
        for position, item in enumerate(self.global_stream()):
            if position % num_shards == shard:
                yield item

    def __len__(self) -> int:
        if self.num_samples is None:
            raise TypeError("an endless BalancedSampler has no length")
        return len(range(self.rank, self.num_samples, self.world_size))
