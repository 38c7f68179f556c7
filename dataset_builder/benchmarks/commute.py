"""CoMMuTE (github.com/MatthieuFP/CoMMuTE): ambiguous English sentences whose translation the image decides.

Layout under the data root (the repository cloned inside `CoMMuTE/`, images unpacked beside it)::

    CoMMuTE/CoMMuTE/en-<lang>/{src.en, correct.<lang>, incorrect.<lang>, img.order}   line-aligned, UTF-8
    CoMMuTE/images/<img.order line>                                                 .jpg/.jpeg/.png mixed

Lines 2k and 2k+1 (0-based) share the English source and swap correct/incorrect; a few official pairs are not exact
swaps (en-fr lines 23–24 and 99–100), so pairing is recorded per row (`swap_pair`), not enforced. Lines are kept
verbatim (only the line break is removed), as the official scorer and the paper read them.
"""

from __future__ import annotations

from pathlib import Path

from datasets import Features, Image, List, Value

from .layout import BenchmarkLayoutError, check_count, check_images, read_lines, require_dir, to_dataset

LANGUAGES = ("de", "fr", "ru", "zh", "cs", "ar", "es")  # es: Scenes exports only (no official en-es)
OFFICIAL_LINES = {"de": 300, "fr": 308, "cs": 308, "ru": 324, "zh": 324, "ar": 324}
FEATURES = Features(
    {
        "id": Value("string"),
        "image": Image(),
        "task": Value("string"),
        "language": Value("string"),
        "split": Value("string"),
        "source": Value("string"),
        "references": List(Value("string")),
        "correct": Value("string"),
        "incorrect": Value("string"),
        "pair": Value("int32"),
        "swap_pair": Value("bool"),
    }
)


def available(root: str | Path) -> list[str]:
    folder = Path(root) / "CoMMuTE" / "CoMMuTE"
    return [lang for lang in LANGUAGES if (folder / f"en-{lang}").is_dir()]


def load_commute(root: str | Path, language: str, check_image_files: bool = True):
    """One row per line: source, correct/incorrect target (reference = correct), image, pair index."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown CoMMuTE language {language!r}; allowed: {', '.join(LANGUAGES)}")
    root = Path(root)
    folder = require_dir(root / "CoMMuTE" / "CoMMuTE" / f"en-{language}", f"the CoMMuTE en-{language} pair folder")
    images = require_dir(root / "CoMMuTE" / "images", "the unpacked CoMMuTE images.tar.gz")
    files = {name: folder / name for name in ("src.en", f"correct.{language}", f"incorrect.{language}", "img.order")}
    for path in files.values():
        if not path.is_file():
            raise BenchmarkLayoutError(f"missing file {path}")
    source, correct, incorrect, order = (read_lines(path, strip=False) for path in files.values())
    official = OFFICIAL_LINES.get(language)
    why = f"line-aligned with {files['src.en'].name}" + (
        f"; the official en-{language} has {official}" if official else ""
    )
    for path, lines in zip(list(files.values())[1:], (correct, incorrect, order)):
        check_count(path, len(lines), len(source), why)
    if len(source) % 2:
        raise BenchmarkLayoutError(
            f"{files['src.en']} has {len(source)} lines, expected an even number (lines 2k and 2k+1 form a pair)"
        )
    paths = [images / name.strip() for name in order]
    if check_image_files:
        check_images(paths, files["img.order"])
    rows = []
    for i in range(len(source)):
        j = i ^ 1  # the other line of the pair
        swap = source[i] == source[j] and correct[i] == incorrect[j] and incorrect[i] == correct[j]
        rows.append(
            {
                "id": f"en-{language}/{i}",
                "image": str(paths[i]),
                "task": "translate",
                "language": language,
                "split": "test",
                "source": source[i],
                "references": [correct[i]],
                "correct": correct[i],
                "incorrect": incorrect[i],
                "pair": i // 2,
                "swap_pair": swap,
            }
        )
    return to_dataset(rows, FEATURES)
