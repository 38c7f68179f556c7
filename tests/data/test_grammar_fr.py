"""Golden French sentences, written by hand: agreement, adjective order, invariable colours, elision, du/des/d'un."""

import pytest

from dataset_builder import grammar_fr as fr
from dataset_builder.scenes import Group

CIRCLE = Group("circle", "green", "large")  # le cercle
STAR = Group("star", "white", "small")  # l'étoile (f)


@pytest.mark.parametrize(
    "group, caption",
    [
        (CIRCLE, "Un grand cercle vert."),
        (STAR, "Une petite étoile blanche."),
        (Group("arrow", "purple", "large"), "Une grande flèche violette."),
        (Group("ring", "blue", "small"), "Un petit anneau bleu."),
        (Group("cross", "orange", "small"), "Une petite croix orange."),
        (Group("heart", "brown", None), "Un cœur marron."),
    ],
)
def test_agreement_and_order(group, caption):
    assert fr.short_caption(group) == caption


def test_existential_plurals_and_listing():
    assert fr.existential([CIRCLE]) == "Il y a un grand cercle vert."
    assert (
        fr.existential([Group("circle", "red", None, 2), Group("star", "blue", "small", 3)])
        == "Il y a deux cercles rouges et trois petites étoiles bleues."
    )
    assert (
        fr.listing([Group("ring", "black", "large", 2), STAR, Group("cross", "white", "small", 2)])
        == "Deux grands anneaux noirs, une petite étoile blanche et deux petites croix blanches."
    )
    assert fr.listing([Group("heart", "orange", "small", 2)]) == "Deux petits cœurs orange."


def test_relations_contract_de():
    assert (
        fr.relation_sentence(CIRCLE, "left", STAR) == "Le grand cercle vert est à gauche de la petite étoile blanche."
    )
    assert fr.relation_sentence(STAR, "right", CIRCLE) == "La petite étoile blanche est à droite du grand cercle vert."
    assert (
        fr.relation_sentence(CIRCLE, "above", Group("ellipse", "red", None))
        == "Le grand cercle vert est au-dessus de l'ellipse rouge."
    )
    assert (
        fr.relation_sentence(Group("arrow", "pink", "small", 2), "below", CIRCLE)
        == "Les deux petites flèches roses sont au-dessous du grand cercle vert."
    )
    assert (
        fr.relation_sentence(CIRCLE, "next", Group("square", "yellow", "small", 2))
        == "Le grand cercle vert est à côté des deux petits carrés jaunes."
    )
    assert (
        fr.relation_sentence(Group("ring", "red", None), "left", CIRCLE)
        == "L'anneau rouge est à gauche du grand cercle vert."
    )


def test_pronouns_and_disambiguation_pairs():
    assert fr.pronoun_attributes(Group("star", "red", None)) == "Elle est rouge."
    assert fr.pronoun_attributes(Group("star", "red", None), "m") == "Il est rouge."
    assert fr.pronoun_attributes(Group("circle", "white", "small")) == "Il est petit et blanc."
    assert fr.pronoun_attributes(Group("circle", "white", "small"), "f") == "Elle est petite et blanche."
    assert (
        fr.pronoun_relation(Group("cross", "red", "large"), "left", CIRCLE) == "Elle est à gauche du grand cercle vert."
    )


def test_translation_only_sentence_types():
    assert fr.attribute_statement(STAR) == "L'étoile est petite et blanche."
    assert fr.attribute_statement(Group("star", "green", "large", 3)) == "Les trois étoiles sont grandes et vertes."
    assert fr.attribute_statement(CIRCLE) == "Le cercle est grand et vert."
    assert (
        fr.existential_relation(STAR, "right", CIRCLE)
        == "Il y a une petite étoile blanche à droite du grand cercle vert."
    )
