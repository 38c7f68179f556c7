"""Golden Russian sentences, written by hand: genders, adjective stem types, numerals 1 / 2–4 / 5+, the genitive
after слева от / справа от, the instrumental after над / под / рядом с, participle agreement."""

import pytest

from dataset_builder import grammar_ru as ru
from dataset_builder.scenes import Group

SQUARE = Group("square", "blue", "small")  # квадрат (m), синий (soft stem)
STAR = Group("star", "red", "large")  # звезда (f)
HEART = Group("heart", "yellow", "large")  # сердце (n)


@pytest.mark.parametrize(
    "group, caption, existential",
    [
        (SQUARE, "Маленький синий квадрат.", "Здесь есть маленький синий квадрат."),
        (STAR, "Большая красная звезда.", "Здесь есть большая красная звезда."),
        (HEART, "Большое желтое сердце.", "Здесь есть большое желтое сердце."),
        (
            Group("arrow", "blue", "small"),
            "Маленькая синяя стрелка.",
            "Здесь есть маленькая синяя стрелка.",
        ),
        (Group("ring", "blue", None), "Синее кольцо.", "Здесь есть синее кольцо."),
    ],
)
def test_gender_agreement(group, caption, existential):
    assert ru.short_caption(group) == caption
    assert ru.existential([group]) == existential


@pytest.mark.parametrize(
    "group, phrase",
    [
        (Group("circle", "red", None, 2), "Два красных круга."),
        (Group("circle", "red", "small", 4), "Четыре маленьких красных круга."),
        (Group("star", "blue", "large", 2), "Две большие синие звезды."),
        (Group("heart", "green", None, 3), "Три зеленых сердца."),
        (Group("circle", "red", None, 5), "Пять красных кругов."),
        (Group("star", "white", "small", 6), "Шесть маленьких белых звезд."),
        (Group("ring", "black", None, 5), "Пять черных колец."),
    ],
)
def test_numerals(group, phrase):
    assert ru.listing([group]) == phrase


def test_listing_takes_plural_participle():
    assert (
        ru.existential([STAR, Group("circle", "red", None, 2)])
        == "Здесь есть большая красная звезда и два красных круга."
    )


def test_prepositions_govern_case():
    assert (
        ru.relation_sentence(STAR, "left", SQUARE)
        == "Большая красная звезда находится слева от маленького синего квадрата."
    )
    assert (
        ru.relation_sentence(SQUARE, "right", STAR)
        == "Маленький синий квадрат находится справа от большой красной звезды."
    )
    assert (
        ru.relation_sentence(STAR, "above", SQUARE) == "Большая красная звезда находится над маленьким синим квадратом."
    )
    assert (
        ru.relation_sentence(SQUARE, "below", STAR) == "Маленький синий квадрат находится под большой красной звездой."
    )
    assert (
        ru.relation_sentence(SQUARE, "next", HEART)
        == "Маленький синий квадрат находится рядом с большим желтым сердцем."
    )
    assert (
        ru.relation_sentence(Group("circle", "red", None, 2), "left", Group("star", "blue", None, 3))
        == "Два красных круга находятся слева от трех синих звезд."
    )
    assert (
        ru.relation_sentence(SQUARE, "above", Group("arrow", "pink", "small", 2))
        == "Маленький синий квадрат находится над двумя маленькими розовыми стрелками."
    )
    assert (
        ru.relation_sentence(SQUARE, "next", Group("ring", "black", None, 5))
        == "Маленький синий квадрат находится рядом с пятью черными кольцами."
    )


def test_pronouns_and_disambiguation_pairs():
    assert ru.pronoun_attributes(Group("star", "red", None)) == "Она красная."
    assert ru.pronoun_attributes(Group("star", "red", None), "m") == "Он красный."
    assert ru.pronoun_attributes(Group("ring", "blue", "large")) == "Оно большое и синее."
    assert ru.pronoun_attributes(Group("cross", "blue", "small"), "f") == "Она маленькая и синяя."
    assert ru.pronoun_relation(HEART, "below", STAR) == "Оно находится под большой красной звездой."


def test_translation_only_sentence_types():
    assert ru.attribute_statement(STAR) == "Звезда большая и красная."
    assert ru.attribute_statement(SQUARE) == "Квадрат маленький и синий."
    assert ru.attribute_statement(Group("star", "blue", "small", 2)) == "Две звезды маленькие и синие."
    assert (
        ru.existential_relation(STAR, "right", SQUARE)
        == "Справа от маленького синего квадрата есть большая красная звезда."
    )
    assert (
        ru.existential_relation(SQUARE, "next", HEART) == "Рядом с большим желтым сердцем есть маленький синий квадрат."
    )
