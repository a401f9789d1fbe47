"""The knowledge bases of one home, each opened as a :class:`DualBrain` on one shared engine.

    library = Library(Home())
    library.create("acme").learn(["handbook.pdf"])
    library.open("acme").ask("Who approves travel expenses?")

A process that serves several knowledge bases (the server) loads the base model once: every knowledge base
it opens answers on the library's engine. Whoever answers from two of them in turn takes the first one's
shards off before the second answers (``serve/answering.py``), because shard ids are unique only within one
knowledge base.
"""

from __future__ import annotations

import threading
from pathlib import Path

from dualbrain.answering import Engine
from dualbrain.api import DualBrain
from dualbrain.errors import UnknownKnowledgeBase
from dualbrain.store import Home
from dualbrain.store.reports import PUBLISHED_SUFFIXES, latest_report


class Library:
    """Every knowledge base of ``home``, opened once each, answering with ``model`` (None: the bundled default)."""

    def __init__(self, home: Home, model: str | Path | None = None):
        self.home = home
        self.engine = Engine(model, home.models_dir)
        self._brains: dict[str, tuple[int, DualBrain]] = {}  # name → (directory identity, brain)
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return self.home.list_kbs()

    def create(self, name: str) -> DualBrain:
        """A new, empty knowledge base (raises KnowledgeBaseExists)."""
        self.home.create_kb(name)
        return self.open(name)

    def open(self, name: str) -> DualBrain:
        """Knowledge base ``name`` (raises UnknownKnowledgeBase). One deleted and created again under the same
        name (by the CLI, say) is a new knowledge base: it is opened afresh."""
        with self._lock:
            identity = self.home.kb_identity(name)
            cached = self._brains.get(name)
            if cached is None or cached[0] != identity:
                cached = self._brains[name] = (identity, DualBrain(self.home.open_kb(name), self.home, engine=self.engine))
            return cached[1]

    def opened(self) -> list[DualBrain]:
        """The knowledge bases opened so far that still exist; one deleted meanwhile (by the CLI, say) is let go."""
        with self._lock:
            for name, (identity, _) in list(self._brains.items()):
                try:
                    present = self.home.kb_identity(name) == identity
                except UnknownKnowledgeBase:
                    present = False
                if not present:
                    del self._brains[name]
            return [brain for _, brain in self._brains.values()]

    def delete(self, name: str) -> None:
        """Delete knowledge base ``name`` with everything it learned, the keys bound to it and its queued work."""
        with self._lock:
            self.home.delete_kb(name)  # refused while a job runs on it: then it stays open here as it was
            self._brains.pop(name, None)

    def latest_report(self) -> Path | None:
        """The folder of the newest ``dualbrain bench`` report published into this home."""
        return latest_report(self.home.reports_dir)

    def report_files(self) -> dict[str, Path]:
        """The files of the newest report that may be handed out (report, charts), by name."""
        folder = self.latest_report()
        return {path.name: path for path in folder.iterdir() if path.suffix in PUBLISHED_SUFFIXES} if folder else {}
