"""Simplified Chinese grammar: numeral + measure word (个, 颗) + "colour的" + size + noun ("一个红色的大圆"), 两 for two,
"X在Y的左边" word order, no articles (a definite single object drops "一个"), 、 and 和 in lists."""

from __future__ import annotations

from collections.abc import Sequence

from .scenes import Group

# shape: (noun, measure word)
NOUNS = {
    "circle": ("圆", "个"),
    "square": ("正方形", "个"),
    "triangle": ("三角形", "个"),
    "star": ("星星", "颗"),
    "heart": ("爱心", "颗"),
    "cross": ("十字", "个"),
    "ring": ("圆环", "个"),
    "diamond": ("菱形", "个"),
    "ellipse": ("椭圆", "个"),
    "arrow": ("箭头", "个"),
}
COLOURS = {
    "red": "红色",
    "orange": "橙色",
    "yellow": "黄色",
    "green": "绿色",
    "blue": "蓝色",
    "purple": "紫色",
    "pink": "粉色",
    "brown": "棕色",
    "white": "白色",
    "black": "黑色",
}
SIZES = {"small": "小", "large": "大"}
SIZE_PREDICATES = {"small": "很小", "large": "很大"}
NUMBERS = {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六"}
RELATIONS = {"left": "左边", "right": "右边", "above": "上面", "below": "下面", "next": "旁边"}


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "、".join(items[:-1]) + "和" + items[-1]


def noun_phrase(group: Group, definite: bool = False) -> str:
    noun, measure = NOUNS[group.shape]
    colour = f"{COLOURS[group.colour]}的" if group.colour else ""
    size = SIZES[group.size] if group.size else ""
    quantity = "" if definite and group.count == 1 else NUMBERS[group.count] + measure
    return f"{quantity}{colour}{size}{noun}"


def short_caption(group: Group) -> str:
    return f"{noun_phrase(group)}。"


def listing(groups: Sequence[Group]) -> str:
    return f"{_join([noun_phrase(g) for g in groups])}。"


def relation_sentence(subject: Group, relation: str, landmark: Group) -> str:
    return f"{noun_phrase(subject, True)}在{noun_phrase(landmark, True)}的{RELATIONS[relation]}。"


def pronoun_attributes(group: Group, gender_override: str | None = None) -> str:
    """ "它很小，是红色的。" """
    return f"它{_predicate(group)}。"


def pronoun_relation(subject: Group, relation: str, landmark: Group, gender_override: str | None = None) -> str:
    return f"它在{noun_phrase(landmark, True)}的{RELATIONS[relation]}。"


def _predicate(group: Group) -> str:
    parts = ([SIZE_PREDICATES[group.size]] if group.size else []) + (
        [f"是{COLOURS[group.colour]}的"] if group.colour else []
    )
    return "，".join(parts)


def existential(groups: Sequence[Group]) -> str:
    """ "这里有一颗红色的星星和两个蓝色的圆。" """
    return f"这里有{_join([noun_phrase(g) for g in groups])}。"


def existential_relation(subject: Group, relation: str, landmark: Group) -> str:
    """ "蓝色的圆的左边有一颗红色的星星。" """
    return f"{noun_phrase(landmark, True)}的{RELATIONS[relation]}有{noun_phrase(subject)}。"


def attribute_statement(group: Group) -> str:
    """ "星星很小，是红色的。" / "两颗星星很小，是红色的。" """
    return f"{noun_phrase(Group(group.shape, None, None, group.count), True)}{_predicate(group)}。"
