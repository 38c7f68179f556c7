"""Atomic writes: all-or-nothing replacement, no temp files left behind, and the permissions of an ordinary write."""

from __future__ import annotations

import os
import stat

import pytest

from dataset_builder.atomic import atomic_folder, atomic_path, write_text_atomic


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


def _tree(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_atomic_folder_swaps_a_full_folder_whole(tmp_path, umask_022):
    target = tmp_path / "model"
    with atomic_folder(target) as staging:
        assert staging.is_dir() and staging.parent == tmp_path and staging.name.startswith(".")
        (staging / "sub").mkdir()
        (staging / "sub" / "a.txt").write_text("old a")
        (staging / "stale.txt").write_text("only in the old one")
    with atomic_folder(target) as staging:
        assert list(staging.iterdir()) == []  # the new folder starts empty, it is never merged into the old
        (staging / "sub").mkdir()
        (staging / "sub" / "a.txt").write_text("new a")
    assert _tree(target) == {"sub/a.txt": "new a"}
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # neither the staging nor the retired folder is left
    assert _mode(target) == 0o755


def test_atomic_folder_failure_keeps_the_previous_folder_and_leaves_no_temp(tmp_path):
    target = tmp_path / "best-model"
    with atomic_folder(target) as staging:
        (staging / "config.json").write_text("{}")
    with pytest.raises(RuntimeError, match="crashed mid-copy"), atomic_folder(target) as staging:
        (staging / "config.json").write_text('{"half": true}')
        (staging / "weights").mkdir()
        raise RuntimeError("crashed mid-copy")
    assert _tree(target) == {"config.json": "{}"}
    assert [p.name for p in tmp_path.iterdir()] == ["best-model"]


def test_atomic_folder_failing_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "space"
    with atomic_folder(target) as staging:
        (staging / "app.py").write_text("old")
    real_replace = os.replace

    def replace(src, dst):
        if str(src).endswith(".tmp"):  # the new folder cannot be moved into place (e.g. a full disk or a lock)
            raise OSError("rename refused")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="rename refused"), atomic_folder(target) as staging:
        (staging / "app.py").write_text("new")
    assert _tree(target) == {"app.py": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["space"]


def test_atomic_folder_respects_a_stricter_umask(tmp_path):
    old = os.umask(0o077)
    try:
        with atomic_folder(tmp_path / "private") as staging:
            (staging / "inside.txt").write_text("x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "private") == 0o700
    assert _mode(tmp_path / "private" / "inside.txt") == 0o600
