"""The latest benchmark report of a home, for the web UI: ``reports/latest`` → ``reports/<stamp>/``.

``dualbrain bench`` writes its report wherever ``--out`` says; a copy of the Markdown and the charts is
published here. The copy is made in a fresh folder and the ``latest`` link is swapped with
``os.replace``, so a reader sees the old report or the new one, never half of one. Older copies go.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from dualbrain.store.atomic import fsync_dir

PUBLISHED_SUFFIXES = (".md", ".png")


def publish_report(reports_dir: Path, source: Path) -> Path:
    """Copy ``source``'s Markdown and charts into a new folder of ``reports_dir`` and make it the latest."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    folder = reports_dir / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir()
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix in PUBLISHED_SUFFIXES:
            shutil.copyfile(path, folder / path.name)
    link = reports_dir / f".latest-{folder.name}"
    link.symlink_to(folder.name)
    os.replace(link, reports_dir / "latest")
    fsync_dir(reports_dir)
    for old in reports_dir.iterdir():
        if old.is_dir() and not old.is_symlink() and old.name != folder.name:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_report(reports_dir: Path) -> Path | None:
    """The folder of the latest published report, or None."""
    latest = reports_dir / "latest"
    return latest.resolve() if latest.is_symlink() and latest.resolve().is_dir() else None
