"""Crash-safe file writes: a reader sees the old content or the new one, never a torn file.

The new content goes to a temporary file next to the target (same directory, so same filesystem), is
flushed to disk, and then takes the target's name with one ``os.replace``. The directory is fsynced
afterwards so the rename itself survives a power loss. POSIX only, like the rest of the store.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; the parent directory must exist."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    # O_EXCL: never share a temp file with a concurrent writer. Mode 0o666 lets the umask decide, as open() does.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically, byte for byte (no newline translation)."""
    atomic_write_bytes(path, text.encode(encoding))


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the entries just created or renamed inside directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
