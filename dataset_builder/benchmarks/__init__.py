"""Loaders for the four downstream benchmarks in their official on-disk layouts (and Scenes exports of them).

Each loader validates its folder up front and returns a `datasets.Dataset` with an `Image` feature and the columns
`id, image, task, language, split, source, references` (CoMMuTE adds `correct, incorrect, pair, swap_pair`).
"""

BENCHMARKS = ("multi30k", "commute", "xm3600", "coco-karpathy")
