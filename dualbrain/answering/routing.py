"""Which knowledge shards answer a question: the shards whose documents are about what it asks.

Each shard is trained alone, so attaching every shard to every question would add up unrelated changes
(and change general answers the knowledge base knows nothing about). The router compares the question
with the passages of every shard's documents (all-MiniLM-L6-v2 sentence embeddings) and activates the
best-matching shards; a question close to no passage gets the plain base model. Only the *choice* of
weights uses the documents; no document text ever enters the prompt.

A code the question names ("DG-591", "Corvex C3") routes it to the shards whose documents hold that code, first
and whatever its similarity: sentence embeddings read an unseen code as noise ("I found the code DG-591 on a
crate: what item is that?" is 0.22 from the datasheet that lists it), while a code names one thing exactly.

Among the shards close enough, those holding more of the names the question uses (capitalised words after its
first) come first. Sentence embeddings weigh a question's form over its names: "Who heads Project Drunhes?" is as
close to a new document's "X heads Project Y" as to the shard that names Drunhes, and a document added later took
such questions from the shard that answers them (docs/incremental.md, "Routing by names").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dualbrain.retrieval.chunking import chunk_documents
from dualbrain.retrieval.embed import EmbeddingRetriever

# A code: letters and digits, both, in one word that hyphens may join ("C3", "DG-591", "12V"); not a bare number,
# which general questions name too ("the 2018 World Cup"), nor an ordinal or a decade ("3rd", "1990s").
_CODE = re.compile(r"(?<![\w.,-])(?=[\w-]*\d)(?=[\w-]*[^\W\d_])[^\W_]+(?:-[^\W_]+)*(?![\w-])")
_NOT_A_CODE = re.compile(r"\d+(?:st|nd|rd|th|s)")
_WORD = re.compile(r"[^\W_][\w'-]*")
# The route to the short-term memory: the documents no published shard holds yet, routed like one more shard.
SHORT_TERM = "short-term"


def named_codes(text: str) -> set[str]:
    """The codes ``text`` names, lower-cased."""
    return {code.lower() for code in _CODE.findall(text) if not _NOT_A_CODE.fullmatch(code.lower())}


def capitalised_words(text: str) -> set[str]:
    """The words of three letters or more that ``text`` writes with a capital: names, and some sentence starts."""
    return {word for word in _WORD.findall(text) if len(word) >= 3 and word[0].isupper()}


def asked_names(question: str) -> set[str]:
    """The names ``question`` uses: its capitalised words after the first ("Who", "Which", …)."""
    return capitalised_words(" ".join(question.split(maxsplit=1)[1:]))


@dataclass(frozen=True)
class RoutingSettings:
    # Cosine similarity a passage of a shard must reach for that shard to answer (see docs/incremental.md).
    min_similarity: float = 0.3
    # How many of the matching shards answer together (their LoRA updates are summed).
    max_shards: int = 1

    def __post_init__(self) -> None:
        if not -1.0 <= self.min_similarity <= 1.0 or self.max_shards < 1:
            raise ValueError(f"invalid routing settings: {self}")

    def to_dict(self) -> dict:
        return asdict(self)


class ShardRouter:
    """Routes questions to the shards of one version, given each shard's documents, or pieces of them, as (name,
    text); no name is in two shards."""

    def __init__(
        self,
        shard_documents: dict[str, list[tuple[str, str]]],
        settings: RoutingSettings,
        model_dir: Path | None = None,
        passage_vectors: dict[str, torch.Tensor] | None = None,
    ):
        """``passage_vectors`` caches passage embeddings across the routers of successive versions."""
        self.settings = settings
        self._shard_of = {doc_id: shard_id for shard_id, docs in shard_documents.items() for doc_id, _ in docs}
        self._codes_of = {shard_id: set().union(*(named_codes(text) for _, text in docs))
                          for shard_id, docs in shard_documents.items()}
        self._names_of = {shard_id: set().union(*(capitalised_words(text) for _, text in docs))
                          for shard_id, docs in shard_documents.items()}
        chunks = chunk_documents([doc for docs in shard_documents.values() for doc in docs])
        self._retriever = EmbeddingRetriever(chunks, model_dir, passage_vectors) if chunks else None

    def scores(self, question: str) -> dict[str, float]:
        """Each shard's best passage similarity to ``question``."""
        if self._retriever is None:
            return {}
        best: dict[str, float] = {}
        for chunk, score in zip(self._retriever.chunks, self._retriever.similarities(question).tolist()):
            shard_id = self._shard_of[chunk.document_id]
            best[shard_id] = max(best.get(shard_id, -1.0), score)
        return best

    def route(self, question: str) -> list[str]:
        """The shards that answer ``question``, best first (possibly none): those holding a code it names, then
        those close enough to it, the ones holding more of its names first."""
        codes, names = named_codes(question), asked_names(question)
        naming = {shard_id for shard_id, held in self._codes_of.items() if codes & held}
        ranked = sorted(self.scores(question).items(),
                        key=lambda item: (item[0] not in naming, -len(names & self._names_of[item[0]]), -item[1]))
        return [shard_id for shard_id, score in ranked
                if shard_id in naming or score >= self.settings.min_similarity][: self.settings.max_shards]
