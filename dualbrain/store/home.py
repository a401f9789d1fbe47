"""The dualbrain home directory: all knowledge bases plus the cache of converted base models.

Layout of ``root``::

    kbs/<name>/      one knowledge base each (see knowledge_base.py)
    kbs/.<tmp>       a knowledge base being created or deleted; hidden, never listed
    models/          converted base models
    keys.sqlite3     API keys, hashed (see keys.py)
    queue.sqlite3    learn and forget requests waiting for the worker (see queue.py)
    reports/latest   the latest benchmark report, for the web UI (see reports.py)
    uploads/         an upload's files while the server ingests them
    worker.lock      held by the one learning worker serving this home

A knowledge base is built in a hidden directory next to its final place and renamed into place, so a
crash never leaves a half-made knowledge base visible. Deleting renames it away first for the same reason.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import platformdirs

from dualbrain.errors import InvalidName, KnowledgeBaseExists, UnknownKnowledgeBase
from dualbrain.store.atomic import fsync_dir
from dualbrain.store.keys import KeyStore
from dualbrain.store.knowledge_base import KnowledgeBase
from dualbrain.store.queue import WorkQueue

# A name is a directory name, so it must not be able to point elsewhere ('..', '/'), hide ('.x') or clash by case.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Hidden names of a knowledge base being created or deleted (a valid name starts with a letter or digit).
_BEING_CREATED, _DELETED = ".new-", ".deleted-"
_CREATE_SECONDS = 3600  # a ".new-" directory older than this was left by a create that died
_NAME_RULE = "1-63 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit"


def default_home() -> Path:
    """``$DUALBRAIN_HOME`` if set, else the platform's user data directory for dualbrain."""
    configured = os.environ.get("DUALBRAIN_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("dualbrain"))


def _check_name(name: str) -> None:
    # fullmatch, not match with '$': '$' would also accept a trailing newline.
    if not _NAME.fullmatch(name):
        raise InvalidName(f"invalid knowledge base name {name!r}: use {_NAME_RULE}")


class Home:
    """All knowledge bases under ``root`` (default: :func:`default_home`); created on first write."""

    def __init__(self, root: Path | None = None, models_dir: Path | None = None):
        self.root = Path(root).expanduser() if root is not None else default_home()
        # Converted base models are large and identical everywhere; another home (a benchmark's
        # scratch home, say) can share one cache instead of converting again.
        self.models_dir = Path(models_dir) if models_dir is not None else self.root / "models"
        self._kbs_dir = self.root / "kbs"

    def create_kb(self, name: str) -> KnowledgeBase:
        _check_name(name)
        final = self._kbs_dir / name
        if final.exists():
            raise KnowledgeBaseExists(f"knowledge base '{name}' already exists")
        self._kbs_dir.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{_BEING_CREATED}{name}-", dir=self._kbs_dir))
        try:
            KnowledgeBase.initialise(building)
            # Fails when a concurrent create got there first: renaming onto a non-empty directory is refused.
            os.rename(building, final)
        except BaseException as error:
            shutil.rmtree(building, ignore_errors=True)
            if isinstance(error, OSError) and error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise KnowledgeBaseExists(f"knowledge base '{name}' already exists") from None
            raise
        fsync_dir(self._kbs_dir)
        return KnowledgeBase(name, final)

    def keys(self) -> KeyStore:
        return KeyStore(self.root / "keys.sqlite3")

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def uploads_dir(self) -> Path:
        """Where the server stages an upload's files until they are ingested (emptied at every start)."""
        return self.root / "uploads"

    @property
    def worker_lock(self) -> Path:
        """The file the one learning worker of this home holds locked."""
        return self.root / "worker.lock"

    def queue(self) -> WorkQueue:
        return WorkQueue(self.root / "queue.sqlite3")

    def open_kb(self, name: str) -> KnowledgeBase:
        return KnowledgeBase(name, self._existing(name))

    def list_kbs(self) -> list[str]:
        if not self._kbs_dir.is_dir():
            return []
        return sorted(p.name for p in self._kbs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def delete_kb(self, name: str) -> None:
        """Delete a knowledge base; it disappears from view in one rename, then the keys bound to it and its
        queued work go, then its files: a base created later under the same name is a new one, which no old key
        may reach. Refused (:class:`JobRunning`) while a job runs on it, which would write into it again; a job
        waiting to start finds it gone."""
        kb = self.open_kb(name)
        tombstone = self._kbs_dir / f"{_DELETED}{name}-{uuid.uuid4().hex[:8]}"
        with kb.job_lock(wait=False):
            os.replace(kb.root, tombstone)
        # Before the files: if removing them fails (what is left is swept at the next start), no old key works.
        self.keys().revoke_kb(name)
        self.queue().drop_kb(name)
        shutil.rmtree(tombstone, ignore_errors=True)

    def sweep(self) -> None:
        """Remove what interrupted deletes and creates left behind (hidden, never listed), and each knowledge
        base's leftovers of interrupted jobs. Run when the learning worker starts."""
        if not self._kbs_dir.is_dir():
            return
        for path in self._kbs_dir.iterdir():
            # A create takes a moment, so only an old one was interrupted; a delete's rename ends its life.
            abandoned = path.name.startswith(_BEING_CREATED) and time.time() - path.stat().st_mtime > _CREATE_SECONDS
            if path.name.startswith(_DELETED) or abandoned:
                shutil.rmtree(path, ignore_errors=True)
        for name in self.list_kbs():
            self.open_kb(name).sweep_leftovers()

    def kb_identity(self, name: str) -> int:
        """Tells this knowledge base from a deleted one of the same name (raises UnknownKnowledgeBase)."""
        return self._existing(name).stat().st_ino

    def _existing(self, name: str) -> Path:
        # Validating here too keeps names like '..' from reaching open or rmtree.
        _check_name(name)
        path = self._kbs_dir / name
        if not path.is_dir():
            raise UnknownKnowledgeBase(f"unknown knowledge base '{name}' (create it with: dualbrain kb create {name})")
        return path
