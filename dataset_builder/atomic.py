"""Atomic writes for every file and folder the project produces: a reader sees the old version or the new, never half.

The temporary sibling is *named* here but created by the writer itself (`open`, `pq.write_table`, `savefig`,
`save_pretrained`, …) or, by `atomic_folder`, with a plain `mkdir`, so it gets the ordinary permissions of a new file
under the process umask (0644 files and 0755 folders under umask 022); `tempfile.mkstemp`/`mkdtemp` would leave
0600/0700 behind after the rename.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an unused hidden sibling of `path` to write; rename it onto `path` on success, remove it on failure.

    Works for files and for folders (a folder may replace only a missing or empty `path`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty hidden sibling folder of `path` to fill; on success it replaces `path` (which may exist and
    hold anything), on failure it is removed and `path` is left as it was.

    A folder cannot be renamed over a non-empty one, so the old `path` is first renamed to a second hidden sibling and
    removed only after the new folder is in place; a reader sees the old folder or the new, at worst briefly neither.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    tmp, retired = path.with_name(f".{path.name}.{token}.tmp"), path.with_name(f".{path.name}.{token}.old")
    tmp.mkdir()  # mode 0777 & ~umask, like any folder the process creates
    try:
        yield tmp
        if path.exists():
            os.replace(path, retired)
        os.replace(tmp, path)
    except BaseException:
        if retired.exists() and not path.exists():
            os.replace(retired, path)  # the swap itself failed: put the old folder back
        _remove(tmp)
        raise
    _remove(retired)


def _remove(path: Path) -> None:
    """Delete a leftover temp file or folder, if any."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8, no newline translation) to `path` atomically; returns `path`."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "x", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path
