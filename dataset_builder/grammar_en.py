"""English grammar for Florenz-Scenes: the source language of every translation pair.

Every grammar module exposes the same functions, in two families that never produce the same sentence:
caption frames (`short_caption`, `listing`, `relation_sentence`) and the translation-only sentence types
(`existential`, `existential_relation`, `attribute_statement`, `pronoun_attributes`, `pronoun_relation`). A `Group`
with colour/size None leaves that attribute unsaid (used for under-specified sources).
"""

from __future__ import annotations

from collections.abc import Sequence

from .scenes import Group

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


def short_caption(group: Group) -> str:
    return _sentence(noun_phrase(group))


def listing(groups: Sequence[Group]) -> str:
    return _sentence(_join([noun_phrase(g) for g in groups]))


def relation_sentence(subject: Group, relation: str, landmark: Group) -> str:
    verb = "is" if subject.count == 1 else "are"
    return _sentence(f"{noun_phrase(subject, True)} {verb} {RELATIONS[relation]} {noun_phrase(landmark, True)}")


def pronoun_attributes(group: Group, gender_override: str | None = None) -> str:
    """ "It is small and red." — the noun is left for the image to supply."""
    return _sentence(f"it is {_predicate(group)}")


def pronoun_relation(subject: Group, relation: str, landmark: Group, gender_override: str | None = None) -> str:
    """ "It is to the left of the blue circle." — which object "it" is, only the image tells."""
    return _sentence(f"it is {RELATIONS[relation]} {noun_phrase(landmark, True)}")


def _be(group: Group) -> str:
    return "is" if group.count == 1 else "are"


def _predicate(group: Group) -> str:
    words = ([SIZES[group.size]] if group.size else []) + ([COLOURS[group.colour]] if group.colour else [])
    return " and ".join(words)


def existential(groups: Sequence[Group]) -> str:
    """ "There is a red star and two blue circles." """
    return _sentence(f"there {_be(groups[0])} {_join([noun_phrase(g) for g in groups])}")


def existential_relation(subject: Group, relation: str, landmark: Group) -> str:
    """ "There is a red star to the left of the blue circle." """
    return _sentence(f"there {_be(subject)} {noun_phrase(subject)} {RELATIONS[relation]} {noun_phrase(landmark, True)}")


def attribute_statement(group: Group) -> str:
    """ "The star is small and red." — the attributes as predicates of the bare definite noun."""
    subject = noun_phrase(Group(group.shape, None, None, group.count), True)
    return _sentence(f"{subject} {_be(group)} {_predicate(group)}")
