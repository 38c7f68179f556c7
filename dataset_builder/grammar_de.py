"""German grammar: three genders, strong/mixed/weak adjective declension in nominative, accusative ("Es gibt
einen …") and dative (after links von/über/unter/neben), "vom" contraction, indeclinable "rosa"."""

from __future__ import annotations

from collections.abc import Sequence

from .scenes import Group

# shape: (singular nom/acc, singular dative, plural nom/acc, plural dative, gender)
NOUNS = {
    "circle": ("Kreis", "Kreis", "Kreise", "Kreisen", "m"),
    "square": ("Quadrat", "Quadrat", "Quadrate", "Quadraten", "n"),
    "triangle": ("Dreieck", "Dreieck", "Dreiecke", "Dreiecken", "n"),
    "star": ("Stern", "Stern", "Sterne", "Sternen", "m"),
    "heart": ("Herz", "Herzen", "Herzen", "Herzen", "n"),
    "cross": ("Kreuz", "Kreuz", "Kreuze", "Kreuzen", "n"),
    "ring": ("Ring", "Ring", "Ringe", "Ringen", "m"),
    "diamond": ("Raute", "Raute", "Rauten", "Rauten", "f"),
    "ellipse": ("Ellipse", "Ellipse", "Ellipsen", "Ellipsen", "f"),
    "arrow": ("Pfeil", "Pfeil", "Pfeile", "Pfeilen", "m"),
}
COLOURS = {
    "red": "rot",
    "orange": "orangefarben",
    "yellow": "gelb",
    "green": "grün",
    "blue": "blau",
    "purple": "violett",
    "pink": "rosa",
    "brown": "braun",
    "white": "weiß",
    "black": "schwarz",
}
INDECLINABLE = {"rosa"}
SIZES = {"small": "klein", "large": "groß"}
NUMBERS = {2: "zwei", 3: "drei", 4: "vier", 5: "fünf", 6: "sechs"}
PRONOUNS = {"m": "er", "f": "sie", "n": "es"}
RELATIONS = {"left": "links von", "right": "rechts von", "above": "über", "below": "unter", "next": "neben"}
_GENDER_INDEX = {"m": 0, "f": 1, "n": 2}
_INDEFINITE = {"nom": ("ein", "eine", "ein"), "acc": ("einen", "eine", "ein"), "dat": ("einem", "einer", "einem")}
_DEFINITE = {"nom": ("der", "die", "das"), "acc": ("den", "die", "das"), "dat": ("dem", "der", "dem")}
# Adjective endings after ein-words (mixed) and der-words (weak), singular, by gender m/f/n.
_MIXED = {"nom": ("er", "e", "es"), "acc": ("en", "e", "es"), "dat": ("en", "en", "en")}
_WEAK = {"nom": ("e", "e", "e"), "acc": ("en", "e", "e"), "dat": ("en", "en", "en")}


def gender(shape: str) -> str:
    return NOUNS[shape][4]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " und " + items[-1]


def _adjectives(group: Group, ending: str) -> list[str]:
    stems = ([SIZES[group.size]] if group.size else []) + ([COLOURS[group.colour]] if group.colour else [])
    return [stem if stem in INDECLINABLE else stem + ending for stem in stems]


def noun_phrase(group: Group, case: str = "nom", definite: bool = False) -> str:
    singular, singular_dat, plural, plural_dat, genus = NOUNS[group.shape]
    g = _GENDER_INDEX[genus]
    if group.count == 1:
        article = (_DEFINITE if definite else _INDEFINITE)[case][g]
        ending = (_WEAK if definite else _MIXED)[case][g]
        noun = singular_dat if case == "dat" else singular
    else:
        number = "beiden" if definite and group.count == 2 else NUMBERS[group.count]
        article = f"{'den' if case == 'dat' else 'die'} {number}" if definite else number
        ending = "en" if definite or case == "dat" else "e"  # weak after "die", strong without article
        noun = plural_dat if case == "dat" else plural
    return " ".join([article, *_adjectives(group, ending), noun])


def _prepositional(relation: str, landmark: Group) -> str:
    phrase = f"{RELATIONS[relation]} {noun_phrase(landmark, 'dat', definite=True)}"
    return phrase.replace("von dem ", "vom ")


def short_caption(group: Group) -> str:
    return _sentence(noun_phrase(group))


def listing(groups: Sequence[Group]) -> str:
    return _sentence(_join([noun_phrase(g) for g in groups]))


def relation_sentence(subject: Group, relation: str, landmark: Group) -> str:
    verb = "ist" if subject.count == 1 else "sind"
    return _sentence(f"{noun_phrase(subject, definite=True)} {verb} {_prepositional(relation, landmark)}")


def pronoun_attributes(group: Group, gender_override: str | None = None) -> str:
    """ "Sie ist klein und rot." — predicative adjectives stay uninflected; only the pronoun carries the gender."""
    return _sentence(f"{PRONOUNS[gender_override or gender(group.shape)]} ist {_predicate(group)}")


def pronoun_relation(subject: Group, relation: str, landmark: Group, gender_override: str | None = None) -> str:
    return _sentence(f"{PRONOUNS[gender_override or gender(subject.shape)]} ist {_prepositional(relation, landmark)}")


def _predicate(group: Group) -> str:
    words = ([SIZES[group.size]] if group.size else []) + ([COLOURS[group.colour]] if group.colour else [])
    return " und ".join(words)


def existential(groups: Sequence[Group]) -> str:
    """ "Es gibt einen roten Stern und zwei blaue Kreise." — the accusative after "es gibt"."""
    return _sentence(f"es gibt {_join([noun_phrase(g, 'acc') for g in groups])}")


def existential_relation(subject: Group, relation: str, landmark: Group) -> str:
    """ "Links vom blauen Kreis gibt es einen roten Stern." """
    return _sentence(f"{_prepositional(relation, landmark)} gibt es {noun_phrase(subject, 'acc')}")


def attribute_statement(group: Group) -> str:
    """ "Der Stern ist klein und rot." — predicative adjectives stay uninflected."""
    subject = noun_phrase(Group(group.shape, None, None, group.count), definite=True)
    return _sentence(f"{subject} {'ist' if group.count == 1 else 'sind'} {_predicate(group)}")
