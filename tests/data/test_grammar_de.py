"""Golden German sentences, written by hand: genders, cases, declension classes, "vom", indeclinable "rosa"."""

import pytest

from dataset_builder import grammar_de as de
from dataset_builder.scenes import Group

STAR = Group("star", "red", "large")  # der Stern
SQUARE = Group("square", "blue", "small")  # das Quadrat
DIAMOND = Group("diamond", "green", "large")  # die Raute


@pytest.mark.parametrize(
    "group, nominative, accusative",
    [
        (STAR, "Ein großer roter Stern.", "Es gibt einen großen roten Stern."),
        (SQUARE, "Ein kleines blaues Quadrat.", "Es gibt ein kleines blaues Quadrat."),
        (DIAMOND, "Eine große grüne Raute.", "Es gibt eine große grüne Raute."),
        (
            Group("circle", "orange", "small"),
            "Ein kleiner orangefarbener Kreis.",
            "Es gibt einen kleinen orangefarbenen Kreis.",
        ),
        (Group("heart", "pink", "large"), "Ein großes rosa Herz.", "Es gibt ein großes rosa Herz."),
        (Group("ellipse", "purple", None), "Eine violette Ellipse.", "Es gibt eine violette Ellipse."),
    ],
)
def test_indefinite_nominative_and_accusative(group, nominative, accusative):
    assert de.short_caption(group) == nominative
    assert de.existential([group]) == accusative


def test_counts_and_listing():
    assert (
        de.listing([STAR, Group("circle", "red", "small", 2)]) == "Ein großer roter Stern und zwei kleine rote Kreise."
    )
    assert (
        de.existential([Group("circle", "red", None, 2), SQUARE, Group("heart", "white", "small", 3)])
        == "Es gibt zwei rote Kreise, ein kleines blaues Quadrat und drei kleine weiße Herzen."
    )


def test_relations_take_the_dative():
    assert de.relation_sentence(STAR, "left", SQUARE) == "Der große rote Stern ist links vom kleinen blauen Quadrat."
    assert (
        de.relation_sentence(SQUARE, "right", DIAMOND)
        == "Das kleine blaue Quadrat ist rechts von der großen grünen Raute."
    )
    assert de.relation_sentence(DIAMOND, "above", STAR) == "Die große grüne Raute ist über dem großen roten Stern."
    assert de.relation_sentence(STAR, "below", DIAMOND) == "Der große rote Stern ist unter der großen grünen Raute."
    assert (
        de.relation_sentence(Group("circle", "red", "small", 2), "next", Group("heart", "yellow", "large"))
        == "Die beiden kleinen roten Kreise sind neben dem großen gelben Herzen."
    )
    assert (
        de.relation_sentence(STAR, "left", Group("cross", "black", "small", 3))
        == "Der große rote Stern ist links von den drei kleinen schwarzen Kreuzen."
    )


def test_pronouns_and_disambiguation_pairs():
    assert de.pronoun_attributes(Group("star", "red", "small")) == "Er ist klein und rot."
    assert de.pronoun_attributes(Group("diamond", "red", None)) == "Sie ist rot."
    assert de.pronoun_attributes(Group("square", None, "large")) == "Es ist groß."
    assert de.pronoun_attributes(Group("square", None, "large"), "f") == "Sie ist groß."
    assert (
        de.pronoun_relation(Group("ring", "blue", "small"), "above", SQUARE)
        == "Er ist über dem kleinen blauen Quadrat."
    )
    assert (
        de.pronoun_relation(Group("arrow", "blue", "small"), "left", STAR, "n")
        == "Es ist links vom großen roten Stern."
    )


def test_translation_only_sentence_types():
    assert de.attribute_statement(STAR) == "Der Stern ist groß und rot."
    assert de.attribute_statement(Group("heart", "pink", "small", 2)) == "Die beiden Herzen sind klein und rosa."
    assert (
        de.existential_relation(DIAMOND, "right", STAR)
        == "Rechts vom großen roten Stern gibt es eine große grüne Raute."
    )
    assert (
        de.existential_relation(STAR, "below", SQUARE)
        == "Unter dem kleinen blauen Quadrat gibt es einen großen roten Stern."
    )
