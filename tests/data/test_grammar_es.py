"""Golden Spanish sentences, written by hand: agreement, noun-colour-size order, del, pro-drop pronouns."""

import pytest

from dataset_builder import grammar_es as es
from dataset_builder.scenes import Group

CIRCLE = Group("circle", "red", "large")  # el círculo
STAR = Group("star", "white", "small")  # la estrella


@pytest.mark.parametrize(
    "group, caption",
    [
        (CIRCLE, "Un círculo rojo grande."),
        (STAR, "Una estrella blanca pequeña."),
        (Group("cross", "yellow", "small"), "Una cruz amarilla pequeña."),
        (Group("heart", "brown", None), "Un corazón marrón."),
        (Group("arrow", "blue", "large"), "Una flecha azul grande."),
    ],
)
def test_agreement_and_order(group, caption):
    assert es.short_caption(group) == caption


def test_existential_plurals_and_listing():
    assert es.existential([STAR]) == "Hay una estrella blanca pequeña."
    assert (
        es.existential([Group("cross", "blue", "small", 2), Group("heart", "black", None, 3)])
        == "Hay dos cruces azules pequeñas y tres corazones negros."
    )
    assert (
        es.listing([CIRCLE, Group("ellipse", "purple", "small", 2), Group("ring", "orange", "large", 2)])
        == "Un círculo rojo grande, dos elipses moradas pequeñas y dos anillos naranjas grandes."
    )


def test_relations():
    assert (
        es.relation_sentence(CIRCLE, "left", STAR)
        == "El círculo rojo grande está a la izquierda de la estrella blanca pequeña."
    )
    assert (
        es.relation_sentence(STAR, "right", CIRCLE)
        == "La estrella blanca pequeña está a la derecha del círculo rojo grande."
    )
    assert (
        es.relation_sentence(Group("square", "green", None, 2), "above", STAR)
        == "Los dos cuadrados verdes están encima de la estrella blanca pequeña."
    )
    assert (
        es.relation_sentence(STAR, "below", Group("arrow", "pink", "large", 2))
        == "La estrella blanca pequeña está debajo de las dos flechas rosas grandes."
    )
    assert (
        es.relation_sentence(STAR, "next", Group("diamond", "black", "small"))
        == "La estrella blanca pequeña está al lado del rombo negro pequeño."
    )


def test_pronouns_and_disambiguation_pairs():
    assert es.pronoun_attributes(Group("star", "red", None)) == "Es roja."
    assert es.pronoun_attributes(Group("star", "red", None), "m") == "Es rojo."
    assert es.pronoun_attributes(Group("circle", "green", "small")) == "Es pequeño y verde."
    assert es.pronoun_attributes(Group("circle", "green", "small"), "f") == "Es pequeña y verde."
    assert (
        es.pronoun_relation(Group("cross", "red", "large"), "left", CIRCLE)
        == "Está a la izquierda del círculo rojo grande."
    )


def test_translation_only_sentence_types():
    assert es.attribute_statement(STAR) == "La estrella es pequeña y blanca."
    assert es.attribute_statement(Group("circle", "red", "small", 2)) == "Los dos círculos son pequeños y rojos."
    assert (
        es.existential_relation(STAR, "right", CIRCLE)
        == "Hay una estrella blanca pequeña a la derecha del círculo rojo grande."
    )
