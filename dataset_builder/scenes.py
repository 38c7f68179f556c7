"""Florenz-Scenes: procedural scene graphs (1–N shapes on a textured background) and their Pillow rendering.

The scene graph is the single source of truth: the image is rendered from it and every sentence in every language is
generated from it (`grammar_<lang>.py`), so a caption is correct by construction and the image is needed to produce it.
Everything is a pure function of a `random.Random`, so a row is reproducible from its seed alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

SHAPES = ("circle", "square", "triangle", "star", "heart", "cross", "ring", "diamond", "ellipse", "arrow")
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "white", "black")
SIZES = ("small", "large")
# Spatial relations between two objects (subject relation landmark), read on the layout grid.
RELATIONS = ("left", "right", "above", "below", "next")
BACKGROUNDS = ("solid", "gradient", "noise")

_RGB = {
    "red": (215, 35, 35),
    "orange": (245, 140, 20),
    "yellow": (240, 215, 40),
    "green": (40, 165, 60),
    "blue": (40, 85, 215),
    "purple": (135, 50, 175),
    "pink": (250, 145, 200),
    "brown": (125, 75, 35),
    "white": (248, 248, 248),
    "black": (18, 18, 18),
}
GRID = 3  # objects sit in distinct cells of a GRID×GRID layout, so relations are unambiguous
_SIZE_RADIUS = {"small": (0.065, 0.085), "large": (0.13, 0.155)}  # fraction of the image side


@dataclass(frozen=True)
class Group:
    """What a noun phrase talks about: `count` objects of one shape; colour/size None means "not mentioned"."""

    shape: str
    colour: str | None
    size: str | None
    count: int = 1


@dataclass
class SceneObject:
    shape: str
    colour: str
    size: str
    row: int
    col: int
    x: float  # centre, pixels
    y: float
    radius: float
    rotation: float  # degrees
    outline: bool
    bbox: tuple[int, int, int, int]


@dataclass
class Scene:
    objects: list[SceneObject]
    background: dict
    image_size: int

    def to_dict(self) -> dict:
        return {
            "image_size": self.image_size,
            "background": self.background,
            "objects": [{**vars(o), "bbox": list(o.bbox)} for o in self.objects],
        }


def sample_scene(
    rng: random.Random,
    image_size: int,
    max_objects: int,
    pairs: Sequence[tuple[str, str]],
    n_objects: int | None = None,
    sizes: Sequence[str] = SIZES,
) -> Scene:
    """Draw a scene whose every (shape, colour) pair is in `pairs` (how the compositional hold-out is enforced) and
    every size in `sizes`."""
    n = n_objects if n_objects is not None else rng.randint(1, max_objects)
    cells = rng.sample(range(GRID * GRID), n)
    cell = image_size / GRID
    objects = []
    for index in cells:
        shape, colour = rng.choice(pairs)
        size = rng.choice(sizes)
        lo, hi = _SIZE_RADIUS[size]
        radius = rng.uniform(lo, hi) * image_size
        row, col = divmod(index, GRID)
        slack = max(0.0, cell / 2 - radius - 1)
        x = (col + 0.5) * cell + rng.uniform(-slack, slack)
        y = (row + 0.5) * cell + rng.uniform(-slack, slack)
        bbox = (round(x - radius), round(y - radius), round(x + radius), round(y + radius))
        objects.append(
            SceneObject(
                shape,
                colour,
                size,
                row,
                col,
                round(x, 2),
                round(y, 2),
                round(radius, 2),
                round(rng.uniform(-15, 15), 1),
                rng.random() < 0.3,
                bbox,
            )
        )
    objects.sort(key=lambda o: (o.x, o.y))
    return Scene(objects, _sample_background(rng), image_size)


def _sample_background(rng: random.Random) -> dict:
    # Muted mid-tones keep both white and black objects (and every hue) visible.
    def tone() -> list[int]:
        grey = rng.uniform(95, 165)
        return [int(grey + rng.uniform(-18, 18)) for _ in range(3)]

    kind = rng.choice(BACKGROUNDS)
    if kind == "solid":
        return {"kind": kind, "colours": [tone()]}
    if kind == "gradient":
        return {"kind": kind, "colours": [tone(), tone()], "angle": rng.choice((0, 45, 90, 135))}
    return {"kind": kind, "colours": [tone()], "noise_seed": rng.getrandbits(32), "amplitude": rng.randint(10, 30)}


def salient_object(scene: Scene) -> SceneObject:
    """The short caption's subject: the largest object, ties broken by the leftmost one."""
    return min(scene.objects, key=lambda o: (o.size != "large", o.x, o.y))


def groups(scene: Scene) -> list[tuple[Group, list[SceneObject]]]:
    """Objects grouped by shape+colour (left to right); size is named only when the whole group shares it."""
    grouped: dict[tuple[str, str], list[SceneObject]] = {}
    for obj in scene.objects:
        grouped.setdefault((obj.shape, obj.colour), []).append(obj)
    result = []
    for (shape, colour), members in grouped.items():
        sizes = {m.size for m in members}
        result.append((Group(shape, colour, sizes.pop() if len(sizes) == 1 else None, len(members)), members))
    return result


def relation(subjects: list[SceneObject], landmarks: list[SceneObject], rng: random.Random) -> str | None:
    """A relation that holds between every subject and every landmark on the layout grid, or None."""
    pairs = [(a, b) for a in subjects for b in landmarks]
    if all(a.row == b.row and abs(a.col - b.col) == 1 for a, b in pairs) and rng.random() < 0.3:
        return "next"
    if all(a.col < b.col for a, b in pairs):
        return "left"
    if all(a.col > b.col for a, b in pairs):
        return "right"
    if all(a.row < b.row for a, b in pairs):
        return "above"
    if all(a.row > b.row for a, b in pairs):
        return "below"
    return None


# Unit outlines (radius 1, pointing up); rotated and scaled per object.
def _regular(n: int, phase: float = -math.pi / 2, radii: tuple[float, ...] = (1.0,)) -> list[tuple[float, float]]:
    return [
        (
            radii[i % len(radii)] * math.cos(phase + 2 * math.pi * i / n),
            radii[i % len(radii)] * math.sin(phase + 2 * math.pi * i / n),
        )
        for i in range(n)
    ]


def _heart() -> list[tuple[float, float]]:
    points = []
    for i in range(32):
        t = 2 * math.pi * i / 32
        points.append(
            (
                16 * math.sin(t) ** 3 / 17,
                -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)) / 17,
            )
        )
    return points


_OUTLINES = {
    "square": [(-0.78, -0.78), (0.78, -0.78), (0.78, 0.78), (-0.78, 0.78)],
    "triangle": _regular(3, radii=(1.0,)),
    "star": _regular(10, radii=(1.0, 0.42)),
    "heart": _heart(),
    "cross": [
        (-0.3, -1),
        (0.3, -1),
        (0.3, -0.3),
        (1, -0.3),
        (1, 0.3),
        (0.3, 0.3),
        (0.3, 1),
        (-0.3, 1),
        (-0.3, 0.3),
        (-1, 0.3),
        (-1, -0.3),
        (-0.3, -0.3),
    ],
    "diamond": [(0, -1), (0.62, 0), (0, 1), (-0.62, 0)],
    "ellipse": [(math.cos(2 * math.pi * i / 24), 0.55 * math.sin(2 * math.pi * i / 24)) for i in range(24)],
    "arrow": [(-1, -0.22), (0.2, -0.22), (0.2, -0.6), (1, 0), (0.2, 0.6), (0.2, 0.22), (-1, 0.22)],
}


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 14) -> tuple[int, int, int]:
    return tuple(min(255, max(0, c + rng.randint(-amount, amount))) for c in rgb)


def _background(spec: dict, size: int) -> Image.Image:
    # Built from tiny greyscale images upscaled and colourised in C: about 10× faster than per-pixel numpy.
    colours = [tuple(c) for c in spec["colours"]]
    if spec["kind"] == "solid":
        return Image.new("RGB", (size, size), colours[0])
    if spec["kind"] == "gradient":
        ramp = _RAMPS[spec["angle"]]
        mask = Image.frombytes("L", (len(ramp[0]), len(ramp)), bytes(v for row in ramp for v in row))
        return ImageOps.colorize(mask.resize((size, size), Image.BILINEAR), colours[0], colours[1])
    cells = max(2, size // 8)
    noise = Image.frombytes("L", (cells, cells), random.Random(spec["noise_seed"]).randbytes(cells * cells))
    amplitude = spec["amplitude"]
    dark = tuple(max(0, c - amplitude) for c in colours[0])
    light = tuple(min(255, c + amplitude) for c in colours[0])
    return ImageOps.colorize(noise.resize((size, size), Image.BILINEAR), dark, light)


# Corner intensities of a gradient by direction (degrees); bilinear upscaling interpolates between them.
_RAMPS = {0: [[0, 255]], 90: [[0], [255]], 45: [[0, 128], [128, 255]], 135: [[128, 255], [0, 128]]}


def render(scene: Scene, rng: random.Random) -> Image.Image:
    """Draw the scene; `rng` only adds colour jitter, so the graph fixes everything a caption states."""
    image = _background(scene.background, scene.image_size)
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        fill = _jitter(_RGB[obj.colour], rng)
        outline = tuple(int(c * 0.55) for c in fill) if obj.outline else None
        r = obj.radius
        if obj.shape in ("circle", "ring"):
            box = (obj.x - r, obj.y - r, obj.x + r, obj.y + r)
            if obj.shape == "circle":
                draw.ellipse(box, fill=fill, outline=outline, width=2 if outline else 0)
            else:
                draw.ellipse(box, outline=fill, width=max(2, round(r * 0.38)))
            continue
        cos, sin = math.cos(math.radians(obj.rotation)), math.sin(math.radians(obj.rotation))
        points = [(obj.x + r * (u * cos - v * sin), obj.y + r * (u * sin + v * cos)) for u, v in _OUTLINES[obj.shape]]
        draw.polygon(points, fill=fill, outline=outline, width=2 if outline else 1)
    return image
