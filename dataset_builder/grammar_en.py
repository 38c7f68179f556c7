"""English grammar for Florenz-Scenes: the source language of every translation pair.

Every grammar module exposes the same functions (`short_caption`, `listing`, `relation_sentence`, `pronoun_attributes`,
`pronoun_relation`); a `Group` with colour/size None leaves that attribute unsaid (used for under-specified sources).
"""

from __future__ import annotations

from collections.abc import Sequence

from modeling_florenz.processing_florenz import LANGUAGE_PREFIXES

from .scenes import Group

PREFIX = LANGUAGE_PREFIXES["en"]
NOUNS = {
    "circle": "circle",
    "square": "square",
    "triangle": "triangle",
    "star": "star",
    "heart": "heart",
    "cross": "cross",
    "ring": "ring",
    "diamond": "diamond",
    "ellipse": "ellipse",
    "arrow": "arrow",
}
PLURALS = {**{shape: noun + "s" for shape, noun in NOUNS.items()}, "cross": "crosses"}
COLOURS = {c: c for c in ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "white", "black")}
SIZES = {"small": "small", "large": "large"}
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
RELATIONS = {
    "left": "to the left of",
    "right": "to the right of",
    "above": "above",
    "below": "below",
    "next": "next to",
}


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def noun_phrase(group: Group, definite: bool = False) -> str:
    words = [SIZES[group.size]] if group.size else []
    words += [COLOURS[group.colour]] if group.colour else []
    words.append(NOUNS[group.shape] if group.count == 1 else PLURALS[group.shape])
    if group.count > 1:
        determiner = ("the " if definite else "") + NUMBERS[group.count]
    elif definite:
        determiner = "the"
    else:
        determiner = "an" if words[0][0] in "aeiou" else "a"
    return f"{determiner} {' '.join(words)}"


def short_caption(group: Group, prefixed: bool = False) -> str:
    return _sentence(f"{PREFIX} {noun_phrase(group)}" if prefixed else noun_phrase(group))


def listing(groups: Sequence[Group], prefixed: bool = False) -> str:
    text = _join([noun_phrase(g) for g in groups])
    return _sentence(f"{PREFIX} {text}" if prefixed else text)


def relation_sentence(subject: Group, relation: str, landmark: Group) -> str:
    verb = "is" if subject.count == 1 else "are"
    return _sentence(f"{noun_phrase(subject, True)} {verb} {RELATIONS[relation]} {noun_phrase(landmark, True)}")


def pronoun_attributes(group: Group, gender_override: str | None = None) -> str:
    """ "It is small and red." — the noun is left for the image to supply."""
    words = ([SIZES[group.size]] if group.size else []) + ([COLOURS[group.colour]] if group.colour else [])
    return _sentence(f"it is {' and '.join(words)}")


def pronoun_relation(subject: Group, relation: str, landmark: Group, gender_override: str | None = None) -> str:
    """ "It is to the left of the blue circle." — which object "it" is, only the image tells."""
    return _sentence(f"it is {RELATIONS[relation]} {noun_phrase(landmark, True)}")
