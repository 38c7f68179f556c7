"""Florenz-Scenes corpus: rows (image, task, language, prompt, source, target, scene) as a pure function of
(config.seed, split, key, index), so any shard or worker can generate any slice in any order.

Keys follow the paper's task-language balancing: `caption-<lang>` (tasks caption / detailed_caption),
`translation-<lang>` (English source → target, image attached) and, for evaluation only, `disambiguation-<lang>`
(Scenes-CoMMuTE: "It is red." whose correct translation depends on the depicted noun's gender).

Captions and translations come from disjoint sentence distributions, so that captioning in a translation-only language
is systematic generalisation, not recall of a trained string: captions are noun-phrase frames (short caption, listing,
and for detailed captions relation sentences), translations are existential ("There is …"), attribute ("The star is
small.") and pronoun ("It is …") sentences about the same image, which put the same lexicon and agreement into
other syntactic positions and cases.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from dataclasses import dataclass, replace
from importlib import import_module
from typing import Any

from modeling_florenz.processing_florenz import LANGUAGES, add_language_prefix, build_prompt

from .scenes import COLOURS, SHAPES, SIZES, Group, Scene, groups, relation, render, salient_object, sample_scene

SPLITS = ("train", "test", "heldout")
CAPTION_LANGS = tuple(LANGUAGES)  # en, de, fr, es, ru, zh
TRANSLATION_LANGS = tuple(lang for lang in LANGUAGES if lang != "en")  # the source is always English
DISAMBIGUATION_LANGS = ("fr", "de", "es", "ru")  # zh has no gendered pronoun, en is the source
GRAMMARS = {lang: import_module(f"{__package__}.grammar_{lang}") for lang in LANGUAGES}
# Scenes-CoMMuTE contrasts masculine with feminine nouns: the neuter "Es ist klein." / "Оно маленькое." is also the
# literal, gender-free rendering of "It is small.", so as an "incorrect" target it would be an acceptable translation.
_CONTRAST_GENDERS = ("m", "f")
_MAX_OBJECTS = 6  # the grammars spell out counts up to six


@dataclass
class ScenesConfig:
    """What the corpus covers and how hard its translation data is.

    caption_langs / translation_langs: the covered (task, language) pairs of the train split; evaluation always covers
    all of them. alignment_noise: probability that a translation pair describes another scene than its image (the
    paper's CLIP-retrieved pairs are noisy). underspecification: probability that an aligned English source leaves
    out colour, size or the noun ("it"), which the target must then take from the image. detailed_share: share of
    multi-object caption rows that are detailed captions (a one-group scene has nothing to add to its short caption).
    prefix_share: share of train captions written behind the language prefix ("In the image: …"); eval captions never
    carry it. translation_prefix_words: whether that share of existential translation pairs also starts with the
    prefix, so the prefix words of translation-only languages are seen as decoder targets (off by default: then the
    forced prefix is a string the decoder never wrote in those languages).
    """

    seed: int = 0
    image_size: int = 128
    caption_langs: tuple[str, ...] = ("en", "de")
    translation_langs: tuple[str, ...] = ("de", "fr", "es", "ru", "zh")
    alignment_noise: float = 0.0
    underspecification: float = 0.3
    max_objects: int = 4
    detailed_share: float = 0.5
    prefix_share: float = 0.25
    multi_sentence_share: float = 0.3
    translation_prefix_words: bool = False

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

    with_image=False skips rendering (image None) and gives the same text: text statistics over a whole plan then
    cost milliseconds instead of minutes."""
    allowed_keys = eval_keys(config, split)
    if key not in allowed_keys:
        raise ValueError(
            f"key {key!r} is not served by split {split!r} with this coverage; allowed: {', '.join(allowed_keys)}"
        )
    if not isinstance(index, int) or index < 0:
        raise ValueError(f"index={index!r}; allowed: a non-negative int")
    kind, lang = key.split("-")
    if kind == "disambiguation":
        return _disambiguation_row(config, split, lang, index, with_image)
    rng = random.Random(f"{config.seed}/{split}/{key}/{index}")
    # The scene depends on (split, index) only, so caption-fr and caption-en at one index show the same image.
    scene_rng = random.Random(f"{config.seed}/{split}/scene/{index}")
    scene = _sample(config, split, scene_rng)
    image = render(scene, scene_rng) if with_image else None
    extra: dict[str, Any] = {}
    if kind == "caption":
        detailed = len(groups(scene)) > 1 and rng.random() < config.detailed_share
        task = "detailed_caption" if detailed else "caption"
        plan = _detailed_plan(scene, rng) if detailed else [("short_caption", salient_group(scene))]
        source, target = "", _realize(lang, plan)
        if split == "train" and rng.random() < config.prefix_share:
            target = add_language_prefix(target, lang)
        prompt = build_prompt(task, lang)
    else:
        task = "translate"
        source, target, extra = _translation(config, split, scene, lang, rng)
        prompt = build_prompt(task, lang, source)
    return _row(image, task, lang, prompt, source, target, scene, "", extra)


def salient_group(scene: Scene) -> Group:
    """The short caption's subject: the salient object together with its identical twins ("Two small white stars.")."""
    obj = salient_object(scene)
    twins = [o for o in scene.objects if (o.shape, o.colour, o.size) == (obj.shape, obj.colour, obj.size)]
    return Group(obj.shape, obj.colour, obj.size, len(twins))


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
    sentences = [getattr(grammar, name)(*args) for name, *args in plan]
    if prefixed:
        sentences[0] = add_language_prefix(sentences[0], lang)
    return ("" if lang == "zh" else " ").join(sentences)


def _relations(scene: Scene, rng: random.Random) -> list[tuple[Group, str, Group]]:
    """Relations between consecutive groups that hold for every member of both; which of the two is the subject is
    drawn, so "to the right of" and "below" occur as often as "to the left of" and "above"."""
    grouped = groups(scene)
    found = []
    for first, second in itertools.pairwise(grouped):
        (subject, members), (landmark, landmark_members) = (first, second) if rng.random() < 0.5 else (second, first)
        rel = relation(members, landmark_members, rng)
        if rel is not None:
            found.append((subject, rel, landmark))
    return found


def _detailed_plan(scene: Scene, rng: random.Random) -> Plan:
    return [("listing", [g for g, _ in groups(scene)])] + [("relation_sentence", *r) for r in _relations(scene, rng)]


def _translation_plan(scene: Scene, multi_sentence_share: float, rng: random.Random) -> Plan:
    """Translation-only sentence types about the scene; never a caption frame."""
    grouped = [g for g, _ in groups(scene)]
    shapes = [g.shape for g in grouped]
    unique = [g for g in grouped if shapes.count(g.shape) == 1]  # "the star" names it without ambiguity
    if len(grouped) > 1 and unique and rng.random() < multi_sentence_share:
        described = rng.sample(unique, min(2, len(unique)))
        return [("existential", grouped)] + [("attribute_statement", g) for g in described]
    relations = _relations(scene, rng)
    styles = ["existential"] + ["attribute_statement"] * bool(unique) + ["existential_relation"] * bool(relations)
    style = rng.choice(styles)
    if style == "attribute_statement":
        return [("attribute_statement", rng.choice(unique))]
    if style == "existential_relation":
        return [("existential_relation", *rng.choice(relations))]
    return [("existential", grouped)]


def _strip(plan: Plan, attribute: str) -> Plan:
    """The same plan with `attribute` (colour or size) left unsaid in every noun phrase."""

    def drop(value):
        if isinstance(value, Group):
            return replace(value, **{attribute: None})
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value

    return [tuple(drop(part) for part in sentence) for sentence in plan]


def _well_formed(plan: Plan) -> bool:
    """No sentence names two indistinguishable groups ("the small arrow … the small arrow"), and every predicate
    keeps an attribute to state."""
    for name, *args in plan:
        said = [g for part in args for g in (part if isinstance(part, list) else [part]) if isinstance(g, Group)]
        if len(set(said)) < len(said):
            return False
        if name in ("attribute_statement", "pronoun_attributes") and not (said[0].colour or said[0].size):
            return False
    return True


def _pronoun_plan(scene: Scene, rng: random.Random) -> Plan | None:
    """A sentence about an object only called "it"; only where the image leaves no doubt which object that is."""
    grouped = groups(scene)
    if len(scene.objects) == 1:
        obj = scene.objects[0]
        colour, size = rng.choice(((True, True), (True, False), (False, True)))
        return [("pronoun_attributes", Group(obj.shape, obj.colour if colour else None, obj.size if size else None))]
    if len(grouped) == 2:
        candidates = [r for r in _relations(scene, rng) if r[0].count == 1]
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
    prefixed = rng.random() < config.prefix_share and config.translation_prefix_words and plan[0][0] == "existential"
    source_plan, underspecified = plan, None
    if aligned and rng.random() < config.underspecification:
        options = ["colour", "size", "it"]
        rng.shuffle(options)
        for option in options:  # the first omission that leaves a well-formed source
            if option == "it":
                pronoun_plan = _pronoun_plan(scene, rng)
                if pronoun_plan is not None:
                    plan = source_plan = pronoun_plan
                    underspecified, prefixed = option, False
                    break
            elif (stripped := _strip(plan, option)) != plan and _well_formed(stripped):
                source_plan, underspecified = stripped, option
                break
    source, target = _realize("en", source_plan, prefixed), _realize(lang, plan, prefixed)
    return source, target, {"aligned": aligned, "underspecified": underspecified}


def _disambiguation_row(config: ScenesConfig, split: str, lang: str, index: int, with_image: bool) -> dict[str, Any]:
    """Scenes-CoMMuTE as CoMMuTE is built: rows 2k and 2k+1 share one ambiguous source ("It is small and red.") and
    show a masculine and a feminine noun of the same colour and size; each row's correct target is the other row's
    incorrect one, so a scorer that ignores the image is right on exactly one row of every pair. Attribute choices
    that read the same in both genders (es "Es grande y verde.") are redrawn."""
    grammar = GRAMMARS[lang]
    pair, member = divmod(index, 2)
    rng = random.Random(f"{config.seed}/{split}/disambiguation-{lang}/{pair}")
    allowed = _pairs(config.seed, split == "heldout")
    while True:
        colour, size = rng.choice(COLOURS), rng.choice(SIZES)
        options = [[s for s in SHAPES if grammar.gender(s) == g and (s, colour) in allowed] for g in _CONTRAST_GENDERS]
        if not all(options):
            continue
        shapes = [rng.choice(shapes) for shapes in options]
        said_colour, said_size = rng.choice(((True, True), (True, False), (False, True)))
        said = [Group(shape, colour if said_colour else None, size if said_size else None) for shape in shapes]
        targets = [grammar.pronoun_attributes(group) for group in said]
        if targets[0] != targets[1]:
            break
    order = [0, 1]
    rng.shuffle(order)
    mine, other = order[member], order[1 - member]
    scene_rng = random.Random(f"{config.seed}/{split}/disambiguation-{lang}/{pair}/{member}")
    scene = sample_scene(scene_rng, config.image_size, 1, [(shapes[mine], colour)], 1, sizes=(size,))
    image = render(scene, scene_rng) if with_image else None
    source = GRAMMARS["en"].pronoun_attributes(said[mine])
    prompt = build_prompt("translate", lang, source)
    extra = {"gender": _CONTRAST_GENDERS[mine], "incorrect_gender": _CONTRAST_GENDERS[other], "pair": pair}
    return _row(image, "translate", lang, prompt, source, targets[mine], scene, targets[other], extra)
