"""Russian grammar: three genders, adjective declension (hard/soft/velar/stressed stems) in nominative, genitive
(слева от, справа от) and instrumental (над, под, рядом с), numeral government (два круга, две звезды, пять кругов),
long-form predicative adjectives ("Звезда маленькая и красная."). Written without "ё"."""

from __future__ import annotations

from collections.abc import Sequence

from .scenes import Group

# shape: gender + forms {case: (singular, plural)}
NOUNS = {
    "circle": ("m", {"nom": ("круг", "круги"), "gen": ("круга", "кругов"), "ins": ("кругом", "кругами")}),
    "square": (
        "m",
        {"nom": ("квадрат", "квадраты"), "gen": ("квадрата", "квадратов"), "ins": ("квадратом", "квадратами")},
    ),
    "triangle": (
        "m",
        {
            "nom": ("треугольник", "треугольники"),
            "gen": ("треугольника", "треугольников"),
            "ins": ("треугольником", "треугольниками"),
        },
    ),
    "star": ("f", {"nom": ("звезда", "звезды"), "gen": ("звезды", "звезд"), "ins": ("звездой", "звездами")}),
    "heart": ("n", {"nom": ("сердце", "сердца"), "gen": ("сердца", "сердец"), "ins": ("сердцем", "сердцами")}),
    "cross": ("m", {"nom": ("крест", "кресты"), "gen": ("креста", "крестов"), "ins": ("крестом", "крестами")}),
    "ring": ("n", {"nom": ("кольцо", "кольца"), "gen": ("кольца", "колец"), "ins": ("кольцом", "кольцами")}),
    "diamond": ("m", {"nom": ("ромб", "ромбы"), "gen": ("ромба", "ромбов"), "ins": ("ромбом", "ромбами")}),
    "ellipse": ("m", {"nom": ("эллипс", "эллипсы"), "gen": ("эллипса", "эллипсов"), "ins": ("эллипсом", "эллипсами")}),
    "arrow": ("f", {"nom": ("стрелка", "стрелки"), "gen": ("стрелки", "стрелок"), "ins": ("стрелкой", "стрелками")}),
}
# Adjective stem + declension type.
COLOURS = {
    "red": ("красн", "hard"),
    "orange": ("оранжев", "hard"),
    "yellow": ("желт", "hard"),
    "green": ("зелен", "hard"),
    "blue": ("син", "soft"),
    "purple": ("фиолетов", "hard"),
    "pink": ("розов", "hard"),
    "brown": ("коричнев", "hard"),
    "white": ("бел", "hard"),
    "black": ("черн", "hard"),
}
SIZES = {"small": ("маленьк", "velar"), "large": ("больш", "stressed")}
# Endings by type and case: (masculine, feminine, neuter, plural).
_ENDINGS = {
    "hard": {"nom": ("ый", "ая", "ое", "ые"), "gen": ("ого", "ой", "ого", "ых"), "ins": ("ым", "ой", "ым", "ыми")},
    "soft": {"nom": ("ий", "яя", "ее", "ие"), "gen": ("его", "ей", "его", "их"), "ins": ("им", "ей", "им", "ими")},
    "velar": {"nom": ("ий", "ая", "ое", "ие"), "gen": ("ого", "ой", "ого", "их"), "ins": ("им", "ой", "им", "ими")},
    "stressed": {"nom": ("ой", "ая", "ое", "ие"), "gen": ("ого", "ой", "ого", "их"), "ins": ("им", "ой", "им", "ими")},
}
_SLOT = {"m": 0, "f": 1, "n": 2}
NUMBERS = {
    "nom": {2: "два", 3: "три", 4: "четыре", 5: "пять", 6: "шесть"},
    "gen": {2: "двух", 3: "трех", 4: "четырех", 5: "пяти", 6: "шести"},
    "ins": {2: "двумя", 3: "тремя", 4: "четырьмя", 5: "пятью", 6: "шестью"},
}
PRONOUNS = {"m": "он", "f": "она", "n": "оно"}
RELATIONS = {
    "left": ("слева от", "gen"),
    "right": ("справа от", "gen"),
    "above": ("над", "ins"),
    "below": ("под", "ins"),
    "next": ("рядом с", "ins"),
}
_CONSONANTS = set("бвгджзклмнпрстфхцчшщ")


def gender(shape: str) -> str:
    return NOUNS[shape][0]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " и " + items[-1]


def _adjectives(group: Group, case: str, slot: int) -> list[str]:
    stems = ([SIZES[group.size]] if group.size else []) + ([COLOURS[group.colour]] if group.colour else [])
    return [stem + _ENDINGS[kind][case][slot] for stem, kind in stems]


def noun_phrase(group: Group, case: str = "nom") -> str:
    genus, forms = NOUNS[group.shape]
    count = group.count
    if count == 1:
        return " ".join([*_adjectives(group, case, _SLOT[genus]), forms[case][0]])
    if case != "nom":  # oblique cases: numeral, adjectives and noun all agree in the plural
        return " ".join([NUMBERS[case][count], *_adjectives(group, case, 3), forms[case][1]])
    if count <= 4:  # 2–4 govern the genitive singular noun; adjectives genitive plural, nominative plural if feminine
        numeral = "две" if count == 2 and genus == "f" else NUMBERS["nom"][count]
        adjectives = _adjectives(group, "nom" if genus == "f" else "gen", 3)
        return " ".join([numeral, *adjectives, forms["gen"][0]])
    return " ".join([NUMBERS["nom"][count], *_adjectives(group, "gen", 3), forms["gen"][1]])


def _prepositional(relation: str, landmark: Group) -> str:
    preposition, case = RELATIONS[relation]
    phrase = noun_phrase(landmark, case)
    # "с" becomes "со" before a sibilant + consonant cluster (со звездой).
    if preposition.endswith(" с") and phrase[0] in "сзшжщ" and phrase[1] in _CONSONANTS:
        preposition += "о"
    return f"{preposition} {phrase}"


def short_caption(group: Group) -> str:
    return _sentence(noun_phrase(group))


def listing(groups: Sequence[Group]) -> str:
    return _sentence(_join([noun_phrase(g) for g in groups]))


def relation_sentence(subject: Group, relation: str, landmark: Group) -> str:
    verb = "находится" if subject.count == 1 else "находятся"
    return _sentence(f"{noun_phrase(subject)} {verb} {_prepositional(relation, landmark)}")


def pronoun_attributes(group: Group, gender_override: str | None = None) -> str:
    """ "Она маленькая и красная." — pronoun and long-form predicative adjectives agree with the depicted noun."""
    genus = gender_override or gender(group.shape)
    return _sentence(f"{PRONOUNS[genus]} {' и '.join(_adjectives(group, 'nom', _SLOT[genus]))}")


def pronoun_relation(subject: Group, relation: str, landmark: Group, gender_override: str | None = None) -> str:
    genus = gender_override or gender(subject.shape)
    return _sentence(f"{PRONOUNS[genus]} находится {_prepositional(relation, landmark)}")


def existential(groups: Sequence[Group]) -> str:
    """ "Здесь есть красная звезда и два синих круга." """
    return _sentence(f"здесь есть {_join([noun_phrase(g) for g in groups])}")


def existential_relation(subject: Group, relation: str, landmark: Group) -> str:
    """ "Слева от синего круга есть красная звезда." """
    return _sentence(f"{_prepositional(relation, landmark)} есть {noun_phrase(subject)}")


def attribute_statement(group: Group) -> str:
    """ "Звезда маленькая и красная." / "Две звезды маленькие и красные." — long-form predicates agree."""
    slot = _SLOT[gender(group.shape)] if group.count == 1 else 3
    subject = noun_phrase(Group(group.shape, None, None, group.count))
    return _sentence(f"{subject} {' и '.join(_adjectives(group, 'nom', slot))}")
