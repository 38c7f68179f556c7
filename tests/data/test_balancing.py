"""Balanced task×language sampling: exact quotas, determinism, and global balance across workers and ranks."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from dataset_builder.balancing import (
    GENERALIST_FINETUNE_KEYS,
    PRETRAIN_KEYS,
    BalancedSampler,
    balanced_schedule,
    uniform_shares,
)


def _assert_quota(keys_drawn, shares):
    total = sum(Fraction(w).limit_denominator(1_000_000) for w in shares.values())
    counts = Counter()
    for n, key in enumerate(keys_drawn, start=1):
        counts[key] += 1
        for k, w in shares.items():
            expected = n * Fraction(w).limit_denominator(1_000_000) / total
            assert abs(counts[k] - expected) < 1, (n, k, counts[k], float(expected))


def test_key_sets_match_the_paper():
    assert set(PRETRAIN_KEYS) == {"caption-en", "caption-de"} | {
        f"translation-{x}" for x in ["de", "fr", "es", "ru", "zh"]
    }
    assert len(PRETRAIN_KEYS) == 7
    assert len(GENERALIST_FINETUNE_KEYS) == 11 and len(set(GENERALIST_FINETUNE_KEYS)) == 11
    assert {k for k in GENERALIST_FINETUNE_KEYS if k.startswith("caption-")} == {
        f"caption-{x}" for x in ["en", "de", "fr", "es", "ru", "zh"]
    }


def test_uniform_pretrain_schedule_is_exactly_balanced():
    shares = uniform_shares(PRETRAIN_KEYS)
    drawn = list(itertools.islice(balanced_schedule(shares, seed=3), 7 * 50))
    _assert_quota(drawn, shares)
    # every block of 7 consecutive draws is a permutation of the keys
    for start in range(0, len(drawn), 7):
        assert sorted(drawn[start : start + 7]) == sorted(PRETRAIN_KEYS)


def test_schedule_depends_on_seed_only():
    shares = uniform_shares(GENERALIST_FINETUNE_KEYS)
    a = list(itertools.islice(balanced_schedule(shares, seed=1), 200))
    b = list(itertools.islice(balanced_schedule(shares, seed=1), 200))
    c = list(itertools.islice(balanced_schedule(shares, seed=2), 200))
    assert a == b
    assert a != c


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=8),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_non_uniform_shares_respect_quota(weights, seed):
    shares = {f"k{i}": float(w) for i, w in enumerate(weights)}
    _assert_quota(itertools.islice(balanced_schedule(shares, seed=seed), 300), shares)


def test_zero_weight_key_is_never_drawn_and_bad_shares_are_rejected():
    drawn = set(itertools.islice(balanced_schedule({"a": 1, "b": 0, "c": 2}), 100))
    assert drawn == {"a", "c"}
    for bad in ({}, {"a": 0}, {"a": -1}, {"a": float("nan")}):
        with pytest.raises(ValueError):
            next(balanced_schedule(bad))
    with pytest.raises(ValueError, match="duplicate"):
        uniform_shares(["a", "a"])


def test_indices_cover_each_key_once_per_pass():
    sizes = {"caption-en": 5, "translation-fr": 3}
    sampler = BalancedSampler(uniform_shares(list(sizes)), sizes=sizes, seed=0, num_samples=30)
    per_key: dict[str, list[int]] = {}
    for key, index in sampler:
        per_key.setdefault(key, []).append(index)
    for key, indices in per_key.items():
        size = sizes[key]
        for start in range(0, len(indices) - size + 1, size):
            assert sorted(indices[start : start + size]) == list(range(size))


@pytest.mark.parametrize("world_size,num_workers", [(1, 2), (3, 2)])
def test_workers_and_ranks_split_the_global_stream(world_size, num_workers):
    shares = uniform_shares(PRETRAIN_KEYS)
    num_samples = 7 * 12
    reference = list(BalancedSampler(shares, seed=5, num_samples=num_samples).global_stream())
    consumed = []
    for rank in range(world_size):
        sampler = BalancedSampler(shares, seed=5, num_samples=num_samples, rank=rank, world_size=world_size)
        loader = DataLoader(sampler, batch_size=None, num_workers=num_workers)
        got = [(key, int(index)) for key, index in loader]
        assert len(got) in (math.floor(num_samples / world_size), math.ceil(num_samples / world_size))
        consumed.extend(got)
    # disjoint, complete, hence globally balanced (not merely per worker)
    assert len(set(consumed)) == len(consumed) == num_samples
    assert sorted(consumed) == sorted(reference)
    assert Counter(key for key, _ in consumed) == {key: 12 for key in PRETRAIN_KEYS}


def test_set_epoch_changes_order_but_not_balance():
    shares = uniform_shares(PRETRAIN_KEYS)
    sampler = BalancedSampler(shares, seed=0, num_samples=70)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert first != second
    assert Counter(k for k, _ in first) == Counter(k for k, _ in second)
