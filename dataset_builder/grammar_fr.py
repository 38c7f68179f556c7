"""French grammar: gender/number agreement, size before and colour after the noun, invariable colours (orange,
marron), elision (l'étoile, d'une) and de + article contractions (du, des)."""

from __future__ import annotations

from collections.abc import Sequence

from .scenes import Group

# shape: (singular, plural, gender)
NOUNS = {
    "circle": ("cercle", "cercles", "m"),
    "square": ("carré", "carrés", "m"),
    "triangle": ("triangle", "triangles", "m"),
    "star": ("étoile", "étoiles", "f"),
    "heart": ("cœur", "cœurs", "m"),
    "cross": ("croix", "croix", "f"),
    "ring": ("anneau", "anneaux", "m"),
    "diamond": ("losange", "losanges", "m"),
    "ellipse": ("ellipse", "ellipses", "f"),
    "arrow": ("flèche", "flèches", "f"),
}
# (masculine singular, feminine singular, masculine plural, feminine plural)
COLOURS = {
    "red": ("rouge", "rouge", "rouges", "rouges"),
    "orange": ("orange", "orange", "orange", "orange"),
    "yellow": ("jaune", "jaune", "jaunes", "jaunes"),
    "green": ("vert", "verte", "verts", "vertes"),
    "blue": ("bleu", "bleue", "bleus", "bleues"),
    "purple": ("violet", "violette", "violets", "violettes"),
    "pink": ("rose", "rose", "roses", "roses"),
    "brown": ("marron", "marron", "marron", "marron"),
    "white": ("blanc", "blanche", "blancs", "blanches"),
    "black": ("noir", "noire", "noirs", "noires"),
}
SIZES = {"small": ("petit", "petite", "petits", "petites"), "large": ("grand", "grande", "grands", "grandes")}
NUMBERS = {2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six"}
PRONOUNS = {"m": "il", "f": "elle"}
# Each is followed by "de" + the landmark (contracted by `_of`).
RELATIONS = {"left": "à gauche", "right": "à droite", "above": "au-dessus", "below": "au-dessous", "next": "à côté"}
_VOWELS = tuple("aeiouéèê")


def gender(shape: str) -> str:
    return NOUNS[shape][2]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def _form(forms: tuple[str, str, str, str], genus: str, plural: bool) -> str:
    return forms[(genus == "f") + 2 * plural]


def noun_phrase(group: Group, definite: bool = False) -> str:
    singular, plural_noun, genus = NOUNS[group.shape]
    plural = group.count > 1
    words = [_form(SIZES[group.size], genus, plural)] if group.size else []
    words.append(plural_noun if plural else singular)
    words += [_form(COLOURS[group.colour], genus, plural)] if group.colour else []
    body = " ".join(words)
    if plural:
        return f"{'les ' if definite else ''}{NUMBERS[group.count]} {body}"
    if not definite:
        return f"{'une' if genus == 'f' else 'un'} {body}"
    if body.startswith(_VOWELS):
        return f"l'{body}"
    return f"{'la' if genus == 'f' else 'le'} {body}"


def _of(phrase: str) -> str:
    """French "de" + noun phrase: du, des, d'un(e), de la, de l'."""
    for article, contracted in (("le ", "du "), ("les ", "des "), ("un ", "d'un "), ("une ", "d'une ")):
        if phrase.startswith(article):
            return contracted + phrase[len(article) :]
    return f"de {phrase}"


def _prepositional(relation: str, landmark: Group) -> str:
    return f"{RELATIONS[relation]} {_of(noun_phrase(landmark, definite=True))}"


def short_caption(group: Group) -> str:
    return _sentence(noun_phrase(group))


def listing(groups: Sequence[Group]) -> str:
    return _sentence(_join([noun_phrase(g) for g in groups]))


def relation_sentence(subject: Group, relation: str, landmark: Group) -> str:
    verb = "est" if subject.count == 1 else "sont"
    return _sentence(f"{noun_phrase(subject, definite=True)} {verb} {_prepositional(relation, landmark)}")


def pronoun_attributes(group: Group, gender_override: str | None = None) -> str:
    """ "Elle est petite et rouge." — pronoun and predicative adjectives agree with the noun the image shows."""
    genus = gender_override or gender(group.shape)
    return _sentence(f"{PRONOUNS[genus]} est {_predicate(group, genus, False)}")


def pronoun_relation(subject: Group, relation: str, landmark: Group, gender_override: str | None = None) -> str:
    genus = gender_override or gender(subject.shape)
    return _sentence(f"{PRONOUNS[genus]} est {_prepositional(relation, landmark)}")


def _predicate(group: Group, genus: str, plural: bool) -> str:
    words = [_form(SIZES[group.size], genus, plural)] if group.size else []
    words += [_form(COLOURS[group.colour], genus, plural)] if group.colour else []
    return " et ".join(words)


def existential(groups: Sequence[Group]) -> str:
    """ "Il y a une étoile rouge et deux cercles bleus." """
    return _sentence(f"il y a {_join([noun_phrase(g) for g in groups])}")


def existential_relation(subject: Group, relation: str, landmark: Group) -> str:
    """ "Il y a une étoile rouge à gauche du cercle bleu." """
    return _sentence(f"il y a {noun_phrase(subject)} {_prepositional(relation, landmark)}")


def attribute_statement(group: Group) -> str:
    """ "L'étoile est petite et rouge." — predicative adjectives agree in gender and number."""
    plural = group.count > 1
    subject = noun_phrase(Group(group.shape, None, None, group.count), definite=True)
    return _sentence(f"{subject} {'sont' if plural else 'est'} {_predicate(group, gender(group.shape), plural)}")
