"""Golden English sentences, written by hand."""

from dataset_builder import grammar_en as en
from dataset_builder.scenes import Group

STAR = Group("star", "red", "large")
CIRCLES = Group("circle", "blue", "small", 2)


def test_short_captions_and_existential():
    assert en.short_caption(STAR) == "A large red star."
    assert en.existential([STAR]) == "There is a large red star."
    assert en.short_caption(Group("heart", "orange", None)) == "An orange heart."
    assert en.short_caption(Group("ellipse", None, None)) == "An ellipse."


def test_plurals_and_listing():
    assert en.listing([STAR, CIRCLES]) == "A large red star and two small blue circles."
    assert (
        en.existential([STAR, Group("cross", "white", None, 3), Group("arrow", "black", "small")])
        == "There is a large red star, three white crosses and a small black arrow."
    )


def test_relations():
    assert (
        en.relation_sentence(STAR, "left", CIRCLES)
        == "The large red star is to the left of the two small blue circles."
    )
    assert (
        en.relation_sentence(CIRCLES, "right", STAR)
        == "The two small blue circles are to the right of the large red star."
    )
    assert (
        en.relation_sentence(STAR, "above", Group("ring", "green", "small"))
        == "The large red star is above the small green ring."
    )
    assert (
        en.relation_sentence(STAR, "below", Group("ring", "green", "small"))
        == "The large red star is below the small green ring."
    )
    assert (
        en.relation_sentence(STAR, "next", Group("diamond", "pink", "large"))
        == "The large red star is next to the large pink diamond."
    )


def test_underspecified_and_pronouns():
    assert en.existential([Group("star", None, "large")]) == "There is a large star."
    assert en.short_caption(Group("star", "red", None)) == "A red star."
    assert en.pronoun_attributes(Group("star", "red", "small")) == "It is small and red."
    assert en.pronoun_attributes(Group("star", "red", None)) == "It is red."
    assert (
        en.pronoun_relation(STAR, "left", Group("square", "blue", "small"))
        == "It is to the left of the small blue square."
    )


def test_translation_only_sentence_types():
    assert en.existential([CIRCLES, STAR]) == "There are two small blue circles and a large red star."
    assert en.attribute_statement(STAR) == "The star is large and red."
    assert en.attribute_statement(CIRCLES) == "The two circles are small and blue."
    assert (
        en.existential_relation(STAR, "right", CIRCLES)
        == "There is a large red star to the right of the two small blue circles."
    )
