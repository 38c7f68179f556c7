"""Atomic writes for every file and folder the project produces: a reader sees the old version or the new, never half.

The temporary sibling is *named* here but created by the writer itself (`open`, `pq.write_table`, `savefig`,
`save_pretrained`, …), so it gets the ordinary permissions of a new file under the process umask (0644 files and
0755 folders under umask 022); `tempfile.mkstemp`/`mkdtemp` would leave 0600/0700 behind after the rename.
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
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8, no newline translation) to `path` atomically; returns `path`."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "x", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path
