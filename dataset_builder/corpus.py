"""Florenz-Scenes corpus: rows (image, task, language, prompt, source, target, scene) as a pure function of
(config.seed, split, key, index), so any shard or worker can generate any slice in any order.

Keys follow the paper's task-language balancing: `caption-<lang>` (tasks caption / detailed_caption),
`translation-<lang>` (English source → target, image attached) and, for evaluation only, `disambiguation-<lang>`
(Scenes-CoMMuTE: "It is red." whose correct translation depends on the depicted noun's gender).
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from dataclasses import dataclass, replace
from importlib import import_module
from typing import Any

from modeling_florenz.processing_florenz import LANGUAGES, TRANSLATION_TARGETS, build_prompt

from .balancing import PRETRAIN_CAPTION_LANGUAGES
from .scenes import COLOURS, SHAPES, Group, Scene, groups, relation, render, salient_object, sample_scene

SPLITS = ("train", "test", "heldout")
CAPTION_LANGS = tuple(LANGUAGES)
TRANSLATION_LANGS = TRANSLATION_TARGETS
DISAMBIGUATION_LANGS = ("fr", "de", "es", "ru")  # zh has no gendered pronoun, en is the source
GRAMMARS = {lang: import_module(f"{__package__}.grammar_{lang}") for lang in LANGUAGES}
_GENDERS = {"de": ("m", "f", "n"), "fr": ("m", "f"), "es": ("m", "f"), "ru": ("m", "f", "n")}
_MAX_OBJECTS = 6  # the grammars spell out counts up to six


@dataclass
class ScenesConfig:
    """What the corpus covers and how hard its translation data is.

    caption_langs / translation_langs: the covered (task, language) pairs of the train split; evaluation always covers
    all of them. alignment_noise: probability that a translation pair describes another scene than its image (the
    paper's CLIP-retrieved pairs are noisy). underspecification: probability that an aligned English source leaves
    out colour, size or the noun ("it"), which the target must then take from the image.
    """

    seed: int = 0
    image_size: int = 128
    caption_langs: tuple[str, ...] = PRETRAIN_CAPTION_LANGUAGES
    translation_langs: tuple[str, ...] = TRANSLATION_TARGETS
    alignment_noise: float = 0.0
    underspecification: float = 0.3
    max_objects: int = 4
    detailed_share: float = 0.5
    prefix_share: float = 0.25
    multi_sentence_share: float = 0.3

    def __post_init__(self) -> None:
        self.caption_langs = tuple(self.caption_langs)
        self.translation_langs = tuple(self.translation_langs)
        for name, langs, allowed in (
            ("caption_langs", self.caption_langs, CAPTION_LANGS),
            ("translation_langs", self.translation_langs, TRANSLATION_LANGS),
        ):
            unknown = [lang for lang in langs if lang not in allowed]
            if unknown or len(set(langs)) != len(langs):
                raise ValueError(f"{name}={langs!r} has unknown or repeated languages; allowed: {', '.join(allowed)}")
        if not self.caption_langs:
            raise ValueError(f"caption_langs is empty; name at least one of {', '.join(CAPTION_LANGS)}")
        for name in ("alignment_noise", "underspecification", "detailed_share", "prefix_share", "multi_sentence_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value!r}; allowed: a probability in [0, 1]")
        if not 32 <= self.image_size <= 1024:
            raise ValueError(f"image_size={self.image_size!r}; allowed: 32..1024 pixels")
        if not 1 <= self.max_objects <= _MAX_OBJECTS:
            raise ValueError(f"max_objects={self.max_objects!r}; allowed: 1..{_MAX_OBJECTS}")

    def train_keys(self) -> list[str]:
        return [f"caption-{lang}" for lang in self.caption_langs] + [
            f"translation-{lang}" for lang in self.translation_langs
        ]

    def heldout_pairs(self) -> frozenset[tuple[str, str]]:
        """One (shape, colour) pair per shape and per colour never appears in train/test: the compositional hold-out.
        Every shape and colour is still seen in training, only in other combinations."""
        colours = list(COLOURS)
        random.Random(f"{self.seed}/heldout-pairs").shuffle(colours)
        return frozenset(zip(SHAPES, colours))


def eval_keys(config: ScenesConfig, split: str) -> list[str]:
    """Keys a split serves: train = the covered keys; test/heldout = every language (unseen pairs included)."""
    _check_split(split)
    if split == "train":
        return config.train_keys()
    keys = [f"caption-{lang}" for lang in CAPTION_LANGS] + [f"translation-{lang}" for lang in TRANSLATION_LANGS]
    if split == "test":
        keys += [f"disambiguation-{lang}" for lang in DISAMBIGUATION_LANGS]
    return keys


def make_row(config: ScenesConfig, split: str, key: str, index: int, with_image: bool = True) -> dict[str, Any]:
    """One row; raises ValueError for a key the split does not serve (e.g. an uncovered caption language in train).

    `with_image=False` skips rendering (`image` is None) and leaves every text field as it is with the image.
    """
    allowed_keys = eval_keys(config, split)
    if key not in allowed_keys:
        raise ValueError(
            f"key {key!r} is not served by split {split!r} with this coverage; allowed: {', '.join(allowed_keys)}"
        )
    if not isinstance(index, int) or index < 0:
        raise ValueError(f"index={index!r}; allowed: a non-negative int")
    kind, lang = key.split("-")
    rng = random.Random(f"{config.seed}/{split}/{key}/{index}")
    if kind == "disambiguation":
        return _disambiguation_row(config, split, lang, rng, with_image)
    # The scene depends on (split, index) only, so caption-fr and caption-en at one index show the same image.
    scene_rng = random.Random(f"{config.seed}/{split}/scene/{index}")
    scene = _sample(config, split, scene_rng)
    image = render(scene, scene_rng) if with_image else None
    extra: dict[str, Any] = {}
    if kind == "caption":
        task = "detailed_caption" if rng.random() < config.detailed_share else "caption"
        plan = _detailed_plan(scene, rng) if task == "detailed_caption" else [("short_caption", salient_group(scene))]
        source, target = "", _realize(lang, plan, rng.random() < config.prefix_share)
        prompt = build_prompt(task, lang)
    else:
        task = "translate"
        source, target, extra = _translation(config, split, scene, lang, rng)
        prompt = build_prompt(task, lang, source)
    return _row(image, task, lang, prompt, source, target, scene, "", extra)


def salient_group(scene: Scene) -> Group:
    obj = salient_object(scene)
    return Group(obj.shape, obj.colour, obj.size)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")


@functools.lru_cache(maxsize=64)
def _pairs(seed: int, heldout: bool) -> tuple[tuple[str, str], ...]:
    """Sorted (shape, colour) pairs a split may draw from; a pure function of its arguments, so safe to memoise."""
    held = ScenesConfig(seed=seed).heldout_pairs()
    return tuple(sorted(held if heldout else {(s, c) for s in SHAPES for c in COLOURS} - held))


def _sample(config: ScenesConfig, split: str, rng: random.Random, n_objects: int | None = None) -> Scene:
    pairs = _pairs(config.seed, split == "heldout")
    return sample_scene(rng, config.image_size, config.max_objects, pairs, n_objects)


def _row(image, task, lang, prompt, source, target, scene: Scene, incorrect: str, extra: dict) -> dict[str, Any]:
    return {
        "image": image,
        "task": task,
        "language": lang,
        "prompt": prompt,
        "source": source,
        "target": target,
        "scene": json.dumps({**scene.to_dict(), **extra}, ensure_ascii=False),
        "target_incorrect": incorrect,
    }


# A plan is a list of sentences, each (grammar function name, *arguments); realizing one plan in two languages gives
# a translation pair that says the same thing.
Plan = list[tuple]


def _realize(lang: str, plan: Plan, prefixed: bool = False) -> str:
    grammar = GRAMMARS[lang]
    sentences = []
    for position, (name, *args) in enumerate(plan):
        if name in ("short_caption", "listing"):
            sentences.append(getattr(grammar, name)(*args, prefixed=prefixed and position == 0))
        else:
            sentences.append(getattr(grammar, name)(*args))
    return ("" if lang == "zh" else " ").join(sentences)


def _relations(scene: Scene, rng: random.Random) -> list[tuple[Group, str, Group]]:
    """Relations between consecutive groups (left to right) that hold for every member of both."""
    grouped = groups(scene)
    found = []
    for (subject, members), (landmark, landmark_members) in itertools.pairwise(grouped):
        rel = relation(members, landmark_members, rng)
        if rel is not None:
            found.append((subject, rel, landmark))
    return found


def _detailed_plan(scene: Scene, rng: random.Random) -> Plan:
    return [("listing", [g for g, _ in groups(scene)])] + [("relation_sentence", *r) for r in _relations(scene, rng)]


def _translation_plan(scene: Scene, multi_sentence_share: float, rng: random.Random) -> Plan:
    if rng.random() < multi_sentence_share:
        return _detailed_plan(scene, rng)
    style = rng.choice(("short_caption", "listing", "relation_sentence"))
    relations = _relations(scene, rng) if style == "relation_sentence" else []
    if relations:
        return [("relation_sentence", *rng.choice(relations))]
    if style == "listing":
        return [("listing", [g for g, _ in groups(scene)])]
    return [("short_caption", salient_group(scene))]


def _strip(plan: Plan, attribute: str) -> Plan:
    """The same plan with `attribute` (colour or size) left unsaid in every noun phrase."""

    def drop(value):
        if isinstance(value, Group):
            return replace(value, **{attribute: None})
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value

    return [tuple(drop(part) for part in sentence) for sentence in plan]


def _pronoun_plan(scene: Scene, rng: random.Random) -> Plan | None:
    """A sentence about an object only called "it"; only where the image leaves no doubt which object that is."""
    grouped = groups(scene)
    if len(scene.objects) == 1:
        obj = scene.objects[0]
        colour, size = rng.choice(((True, True), (True, False), (False, True)))
        return [("pronoun_attributes", Group(obj.shape, obj.colour if colour else None, obj.size if size else None))]
    if len(grouped) == 2:
        candidates = [r for r in _relations(scene, rng) if r[0].count == 1]
        (first, first_members), (second, second_members) = grouped
        if second.count == 1 and (rel := relation(second_members, first_members, rng)) is not None:
            candidates.append((second, rel, first))
        if candidates:
            return [("pronoun_relation", *rng.choice(candidates))]
    return None


def _translation(
    config: ScenesConfig, split: str, scene: Scene, lang: str, rng: random.Random
) -> tuple[str, str, dict]:
    aligned = rng.random() >= config.alignment_noise
    # A misaligned pair describes a different scene of the same split, like a wrongly retrieved CLIP neighbour.
    text_scene = scene if aligned else _sample(config, split, random.Random(rng.getrandbits(64)))
    plan = _translation_plan(text_scene, config.multi_sentence_share, rng)
    prefixed = rng.random() < config.prefix_share
    source_plan, underspecified = plan, None
    if aligned and rng.random() < config.underspecification:
        said = [
            part for sentence in plan for part in sentence[1:] for part in (part if isinstance(part, list) else [part])
        ]
        options = ["colour", "it"] + (["size"] if any(isinstance(g, Group) and g.size for g in said) else [])
        underspecified = rng.choice(options)
        if underspecified == "it":
            pronoun_plan = _pronoun_plan(scene, rng)
            if pronoun_plan is None:  # "it" would be ambiguous here; leave out the colour instead
                underspecified = "colour"
            else:
                plan = source_plan = pronoun_plan
        if underspecified in ("colour", "size"):
            source_plan = _strip(plan, underspecified)
    source, target = _realize("en", source_plan, prefixed), _realize(lang, plan, prefixed)
    return source, target, {"aligned": aligned, "underspecified": underspecified}


def _disambiguation_row(
    config: ScenesConfig, split: str, lang: str, rng: random.Random, with_image: bool = True
) -> dict[str, Any]:
    """Scenes-CoMMuTE: one object, source "It is …"; the incorrect target uses another gender's pronoun/agreement.
    Attribute choices that read the same in both genders (es "Es grande y verde.") are redrawn."""
    grammar = GRAMMARS[lang]
    while True:
        scene = _sample(config, split, rng, n_objects=1)
        obj = scene.objects[0]
        true_gender = grammar.gender(obj.shape)
        wrong_gender = rng.choice([g for g in _GENDERS[lang] if g != true_gender])
        options = [(obj.colour, obj.size), (obj.colour, None), (None, obj.size)]
        rng.shuffle(options)
        for colour, size in options:
            group = Group(obj.shape, colour, size)
            target = grammar.pronoun_attributes(group)
            incorrect = grammar.pronoun_attributes(group, wrong_gender)
            if target != incorrect:
                source = GRAMMARS["en"].pronoun_attributes(group)
                image = render(scene, rng) if with_image else None
                prompt = build_prompt("translate", lang, source)
                extra = {"gender": true_gender, "incorrect_gender": wrong_gender}
                return _row(image, "translate", lang, prompt, source, target, scene, incorrect, extra)
