"""Spanish grammar: gender/number agreement, colour then size after the noun ("un círculo rojo grande"), "de" + "el"
→ "del", and pro-drop: "it" is not rendered, so the gender of "Es pequeña" lives in the adjective alone."""

from __future__ import annotations

from collections.abc import Sequence

from .scenes import Group

# shape: (singular, plural, gender)
NOUNS = {
    "circle": ("círculo", "círculos", "m"),
    "square": ("cuadrado", "cuadrados", "m"),
    "triangle": ("triángulo", "triángulos", "m"),
    "star": ("estrella", "estrellas", "f"),
    "heart": ("corazón", "corazones", "m"),
    "cross": ("cruz", "cruces", "f"),
    "ring": ("anillo", "anillos", "m"),
    "diamond": ("rombo", "rombos", "m"),
    "ellipse": ("elipse", "elipses", "f"),
    "arrow": ("flecha", "flechas", "f"),
}
# (masculine singular, feminine singular, masculine plural, feminine plural)
COLOURS = {
    "red": ("rojo", "roja", "rojos", "rojas"),
    "orange": ("naranja", "naranja", "naranjas", "naranjas"),
    "yellow": ("amarillo", "amarilla", "amarillos", "amarillas"),
    "green": ("verde", "verde", "verdes", "verdes"),
    "blue": ("azul", "azul", "azules", "azules"),
    "purple": ("morado", "morada", "morados", "moradas"),
    "pink": ("rosa", "rosa", "rosas", "rosas"),
    "brown": ("marrón", "marrón", "marrones", "marrones"),
    "white": ("blanco", "blanca", "blancos", "blancas"),
    "black": ("negro", "negra", "negros", "negras"),
}
SIZES = {"small": ("pequeño", "pequeña", "pequeños", "pequeñas"), "large": ("grande", "grande", "grandes", "grandes")}
NUMBERS = {2: "dos", 3: "tres", 4: "cuatro", 5: "cinco", 6: "seis"}
# Each is followed by "de" + the landmark.
RELATIONS = {"left": "a la izquierda", "right": "a la derecha", "above": "encima", "below": "debajo", "next": "al lado"}


def gender(shape: str) -> str:
    return NOUNS[shape][2]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " y " + items[-1]


def _form(forms: tuple[str, str, str, str], genus: str, plural: bool) -> str:
    return forms[(genus == "f") + 2 * plural]


def noun_phrase(group: Group, definite: bool = False) -> str:
    singular, plural_noun, genus = NOUNS[group.shape]
    plural = group.count > 1
    words = [plural_noun if plural else singular]
    words += [_form(COLOURS[group.colour], genus, plural)] if group.colour else []
    words += [_form(SIZES[group.size], genus, plural)] if group.size else []
    if plural:
        article = ("las " if genus == "f" else "los ") if definite else ""
        return f"{article}{NUMBERS[group.count]} {' '.join(words)}"
    article = ("la" if genus == "f" else "el") if definite else ("una" if genus == "f" else "un")
    return f"{article} {' '.join(words)}"


def _prepositional(relation: str, landmark: Group) -> str:
    phrase = noun_phrase(landmark, definite=True)
    return f"{RELATIONS[relation]} {'del ' + phrase[3:] if phrase.startswith('el ') else 'de ' + phrase}"


def short_caption(group: Group) -> str:
    return _sentence(noun_phrase(group))


def listing(groups: Sequence[Group]) -> str:
    return _sentence(_join([noun_phrase(g) for g in groups]))


def relation_sentence(subject: Group, relation: str, landmark: Group) -> str:
    verb = "está" if subject.count == 1 else "están"
    return _sentence(f"{noun_phrase(subject, definite=True)} {verb} {_prepositional(relation, landmark)}")


def pronoun_attributes(group: Group, gender_override: str | None = None) -> str:
    """ "Es pequeña y roja." — subject dropped; adjectives agree with the noun the image shows."""
    return _sentence(f"es {_predicate(group, gender_override or gender(group.shape), False)}")


def pronoun_relation(subject: Group, relation: str, landmark: Group, gender_override: str | None = None) -> str:
    """ "Está a la izquierda del …" — Spanish drops the pronoun, so nothing here depends on the subject's gender."""
    return _sentence(f"está {_prepositional(relation, landmark)}")


def _predicate(group: Group, genus: str, plural: bool) -> str:
    words = [_form(SIZES[group.size], genus, plural)] if group.size else []
    words += [_form(COLOURS[group.colour], genus, plural)] if group.colour else []
    return " y ".join(words)


def existential(groups: Sequence[Group]) -> str:
    """ "Hay una estrella roja y dos círculos azules." """
    return _sentence(f"hay {_join([noun_phrase(g) for g in groups])}")


def existential_relation(subject: Group, relation: str, landmark: Group) -> str:
    """ "Hay una estrella roja a la izquierda del círculo azul." """
    return _sentence(f"hay {noun_phrase(subject)} {_prepositional(relation, landmark)}")


def attribute_statement(group: Group) -> str:
    """ "La estrella es pequeña y roja." — predicative adjectives agree in gender and number."""
    plural = group.count > 1
    subject = noun_phrase(Group(group.shape, None, None, group.count), definite=True)
    return _sentence(f"{subject} {'son' if plural else 'es'} {_predicate(group, gender(group.shape), plural)}")
