"""Files into a knowledge base: extract their text, record them, and say which earlier document each replaces.

A new document with the same file name as an earlier one is its new edition and supersedes it, when that is
unambiguous; ``supersedes`` names the replaced document explicitly. Nothing is learned here: the next learn
trains the new documents (a new edition into the shard of the one it replaces).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dualbrain.errors import DualBrainError, IngestError
from dualbrain.ingest import collect_files, extract
from dualbrain.store import DocumentRecord, KnowledgeBase, Quotas


@dataclass
class IngestReport:
    """What happened to each input file."""

    added: list[DocumentRecord] = field(default_factory=list)
    problems: list[IngestError] = field(default_factory=list)
    replaced: dict[str, str] = field(default_factory=dict)  # new document id → the id it superseded


def ingest(kb: KnowledgeBase, paths: Iterable[str | Path], supersedes: str | None = None,
           quotas: Quotas | None = None) -> IngestReport:
    """Add the files and folders ``paths`` to ``kb``; a file that cannot be read, or (with ``quotas``) would take
    ``kb`` past one, is reported, not added."""
    if supersedes is not None:
        kb.catalog.get_document(supersedes)  # unknown ids fail before anything is ingested
    files, problems = collect_files(Path(p) for p in paths)
    report = IngestReport(problems=list(problems))
    if supersedes is not None and len(files) != 1:
        raise DualBrainError(f"--supersedes takes exactly one new file, got {len(files)}")
    # A file name replaces an earlier document only when that is unambiguous: exactly one earlier
    # document and exactly one new file carry it (base names of files from different folders can clash).
    current = [doc for doc in kb.documents() if doc.status in ("pending", "learned")]
    earlier = Counter(doc.source_name for doc in current)
    earlier_ids = {doc.source_name: doc.id for doc in current}
    incoming = Counter(path.name for path in files)
    for path in files:
        try:
            document = extract(path)
            if quotas is not None:
                quotas.check(kb.documents(), len(document.text), document.source_name)
            report.added.append(
                kb.add_document(document.source_name, document.format, document.text, document.sha256, document.size_bytes)
            )
        except IngestError as error:
            report.problems.append(error)
            continue
        name = document.source_name
        unambiguous = earlier[name] == 1 and incoming[path.name] == 1
        replaced = supersedes or (earlier_ids[name] if unambiguous else None)
        if replaced is not None:
            kb.catalog.record_supersession(replaced, report.added[-1].id)
            report.replaced[report.added[-1].id] = replaced
    return report
