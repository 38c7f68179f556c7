"""Golden Chinese sentences, written by hand: measure words, 两, word order of colour/size/noun and of 在…的左边."""

from dataset_builder import grammar_zh as zh
from dataset_builder.scenes import Group

CIRCLE = Group("circle", "red", "large")
STAR = Group("star", "blue", "small")


def test_measure_words_and_order():
    assert zh.short_caption(CIRCLE) == "一个红色的大圆。"
    assert zh.short_caption(STAR) == "一颗蓝色的小星星。"
    assert zh.short_caption(Group("heart", "pink", None)) == "一颗粉色的爱心。"
    assert zh.short_caption(Group("arrow", None, "small")) == "一个小箭头。"
    assert zh.existential([CIRCLE]) == "这里有一个红色的大圆。"


def test_counts_and_listing():
    assert zh.listing([Group("circle", "red", None, 2)]) == "两个红色的圆。"
    assert (
        zh.existential([CIRCLE, Group("star", "yellow", "small", 3), Group("ring", "black", None)])
        == "这里有一个红色的大圆、三颗黄色的小星星和一个黑色的圆环。"
    )


def test_relations():
    assert zh.relation_sentence(CIRCLE, "left", STAR) == "红色的大圆在蓝色的小星星的左边。"
    assert zh.relation_sentence(STAR, "right", CIRCLE) == "蓝色的小星星在红色的大圆的右边。"
    assert (
        zh.relation_sentence(Group("square", "green", None, 2), "above", CIRCLE)
        == "两个绿色的正方形在红色的大圆的上面。"
    )
    assert zh.relation_sentence(CIRCLE, "below", STAR) == "红色的大圆在蓝色的小星星的下面。"
    assert zh.relation_sentence(CIRCLE, "next", STAR) == "红色的大圆在蓝色的小星星的旁边。"


def test_pronoun_sentences():
    assert zh.pronoun_attributes(Group("star", "red", None)) == "它是红色的。"
    assert zh.pronoun_attributes(Group("star", None, "small")) == "它很小。"
    assert zh.pronoun_attributes(Group("star", "red", "large")) == "它很大，是红色的。"
    assert zh.pronoun_relation(CIRCLE, "left", STAR) == "它在蓝色的小星星的左边。"


def test_translation_only_sentence_types():
    assert zh.attribute_statement(CIRCLE) == "圆很大，是红色的。"
    assert zh.attribute_statement(Group("star", "blue", "small", 2)) == "两颗星星很小，是蓝色的。"
    assert zh.existential_relation(STAR, "right", CIRCLE) == "红色的大圆的右边有一颗蓝色的小星星。"
