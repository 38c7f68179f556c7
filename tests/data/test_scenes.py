"""Scene graphs and rendering: the image shows what the graph says, deterministically."""

import random

from dataset_builder.scenes import (
    COLOURS,
    SHAPES,
    Scene,
    SceneObject,
    groups,
    relation,
    render,
    salient_object,
    sample_scene,
)

ALL_PAIRS = tuple(sorted((s, c) for s in SHAPES for c in COLOURS))


def _object(shape, colour, size, row, col, x=None, y=None, radius=12.0):
    x = (col + 0.5) * 128 / 3 if x is None else x
    y = (row + 0.5) * 128 / 3 if y is None else y
    bbox = (round(x - radius), round(y - radius), round(x + radius), round(y + radius))
    return SceneObject(shape, colour, size, row, col, x, y, radius, 0.0, False, bbox)


def test_vocabulary_is_large_enough():
    assert len(SHAPES) >= 8 and len(COLOURS) >= 10


def test_sampling_and_rendering_are_deterministic():
    a = sample_scene(random.Random(7), 128, 4, ALL_PAIRS)
    b = sample_scene(random.Random(7), 128, 4, ALL_PAIRS)
    assert a.to_dict() == b.to_dict()
    assert render(a, random.Random(1)).tobytes() == render(b, random.Random(1)).tobytes()
    c = sample_scene(random.Random(8), 128, 4, ALL_PAIRS)
    assert a.to_dict() != c.to_dict()


def test_objects_fit_in_distinct_cells_and_respect_allowed_pairs():
    allowed = (("star", "red"), ("ring", "blue"))
    kinds = set()
    for seed in range(60):
        scene = sample_scene(random.Random(seed), 96, 4, allowed)
        kinds.add(scene.background["kind"])
        assert 1 <= len(scene.objects) <= 4
        assert len({(o.row, o.col) for o in scene.objects}) == len(scene.objects)
        for o in scene.objects:
            assert (o.shape, o.colour) in allowed
            assert 0 <= o.bbox[0] and 0 <= o.bbox[1] and o.bbox[2] <= 96 and o.bbox[3] <= 96
        image = render(scene, random.Random(seed))
        assert image.mode == "RGB" and image.size == (96, 96)
    assert kinds == {"solid", "gradient", "noise"}


def test_filled_shapes_are_drawn_in_their_colour():
    objects = [_object("circle", "red", "large", 0, 0), _object("square", "blue", "large", 2, 2)]
    scene = Scene(objects, {"kind": "solid", "colours": [[128, 128, 128]]}, 128)
    image = render(scene, random.Random(0))
    r, g, b = image.getpixel((round(objects[0].x), round(objects[0].y)))
    assert r > 180 and g < 70 and b < 70
    r, g, b = image.getpixel((round(objects[1].x), round(objects[1].y)))
    assert b > 180 and r < 80
    assert image.getpixel((64, 64)) == (128, 128, 128)


def test_salient_object_is_largest_then_leftmost():
    small_left = _object("star", "red", "small", 0, 0)
    large_right = _object("circle", "blue", "large", 0, 2)
    large_middle = _object("heart", "pink", "large", 1, 1)
    assert salient_object(Scene([small_left, large_right], {}, 128)) is large_right
    assert salient_object(Scene([small_left, large_right, large_middle], {}, 128)) is large_middle


def test_groups_share_shape_and_colour_and_name_size_only_if_shared():
    objects = [
        _object("circle", "red", "small", 0, 0),
        _object("circle", "red", "large", 1, 1),
        _object("star", "blue", "small", 0, 2),
        _object("star", "blue", "small", 2, 2),
    ]
    found = {(g.shape, g.colour): g for g, _ in groups(Scene(objects, {}, 128))}
    assert found[("circle", "red")].count == 2 and found[("circle", "red")].size is None
    assert found[("star", "blue")].count == 2 and found[("star", "blue")].size == "small"


def test_relations_hold_for_every_member():
    rng = random.Random(0)
    a, b = _object("star", "red", "small", 0, 0), _object("ring", "blue", "small", 2, 2)
    assert relation([a], [b], rng) == "left"
    assert relation([b], [a], rng) == "right"
    top, bottom = _object("star", "red", "small", 0, 1), _object("ring", "blue", "small", 2, 1)
    assert relation([top], [bottom], rng) == "above"
    assert relation([bottom], [top], rng) == "below"
    # One member left of the landmark, one right of it: nothing holds for the whole group.
    centre = _object("ring", "blue", "small", 1, 1)
    assert (
        relation([_object("star", "red", "small", 1, 0), _object("star", "red", "small", 0, 2)], [centre], rng) is None
    )
    adjacent = [relation([a], [_object("ring", "blue", "small", 0, 1)], random.Random(s)) for s in range(40)]
    assert set(adjacent) == {"left", "next"}
