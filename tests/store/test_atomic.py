import os

import pytest

from dualbrain.store import atomic_write_bytes, atomic_write_text


def test_writes_new_file(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "hello\r\nworld ü")
    assert target.read_bytes() == "hello\r\nworld ü".encode()
    assert os.listdir(tmp_path) == ["out.txt"]


def test_replaces_existing_file(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"


def test_failed_replace_keeps_old_content_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_failed_flush_keeps_old_content(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    def broken_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_new_file_mode_follows_umask(tmp_path):
    target = tmp_path / "out.txt"
    umask = os.umask(0o022)
    try:
        atomic_write_text(target, "x")
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644
