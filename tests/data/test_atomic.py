"""Atomic writes: all-or-nothing replacement, no temp files left behind, and the permissions of an ordinary write."""

from __future__ import annotations

import os
import stat

import pytest

from dataset_builder.atomic import atomic_path, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_and_folders_get_the_umask_permissions_of_a_normal_write(tmp_path, umask_022):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    written = write_text_atomic(tmp_path / "sub" / "atomic.txt", "héllo\n")
    assert written.read_text(encoding="utf-8") == "héllo\n"
    assert _mode(written) == _mode(plain) == 0o644
    with atomic_path(tmp_path / "folder") as tmp:
        tmp.mkdir()
        (tmp / "inside.txt").write_text("y")
    assert _mode(tmp_path / "folder") == 0o755
    assert (tmp_path / "folder" / "inside.txt").read_text() == "y"


def test_a_stricter_umask_is_respected_too(tmp_path):
    old = os.umask(0o077)
    try:
        written = write_text_atomic(tmp_path / "private.txt", "secret")
    finally:
        os.umask(old)
    assert _mode(written) == 0o600


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "table.csv"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_failed_folder_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "model") as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("crashed mid-save")
    assert list(tmp_path.iterdir()) == []
