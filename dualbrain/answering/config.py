"""What an answer is asked for: the mode, the passages' retriever, the engine and the length, checked once.

The CLI, the Python API and the server build one :class:`AnswerConfig` and pass it down unchanged, so a
setting means the same everywhere and a bad one fails where it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dualbrain.errors import DualBrainError
from dualbrain.reasoning.generate import DEFAULT_MAX_NEW_TOKENS
from dualbrain.retrieval import BM25Retriever, Chunk, Retriever
from dualbrain.retrieval.embed import EmbeddingRetriever

# knowledge: the question alone, the knowledge network attached; base: the plain model; rag: the top passages in
# the prompt; context: whole documents in the prompt; knowledge+rag: the weights first, passages where the
# documents do not support their answer (answering/modes.py).
ANSWER_MODES = ("knowledge", "base", "rag", "context", "knowledge+rag")
# What computes answers: PyTorch (the reasoning network as loaded), or llama.cpp on a GGUF of the same model.
ENGINES = ("torch", "llama.cpp")
RETRIEVERS: dict[str, Callable[[list[Chunk]], Retriever]] = {"bm25": BM25Retriever, "embed": EmbeddingRetriever}
DEFAULT_TOP_K = 3
# The longest answer anyone may ask for, from the CLI, the API or the server.
MAX_ANSWER_TOKENS = 2048


@dataclass(frozen=True)
class AnswerConfig:
    """How to answer: ``mode`` (one of :data:`ANSWER_MODES`), the ``top_k`` passages ``retriever`` finds for the
    modes that read passages, the ``engine`` that computes the answer, its length limit, whether an answer of
    the knowledge network is checked against the documents (``knowledge/support.py``), and whether the knowledge
    modes answer questions on documents not learned yet from their passages (``short_term``; off: the weights alone
    answer, see ``answering/modes.py``)."""

    mode: str = "knowledge"
    retriever: str = "bm25"
    top_k: int = DEFAULT_TOP_K
    engine: str = "torch"
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    check: bool = True
    short_term: bool = True

    def __post_init__(self) -> None:
        for name, value, allowed in (("answer mode", self.mode, ANSWER_MODES), ("retriever", self.retriever, RETRIEVERS),
                                     ("engine", self.engine, ENGINES)):
            if value not in allowed:
                raise DualBrainError(f"unknown {name} '{value}' (choose from {', '.join(allowed)})")
        if self.top_k < 1:
            raise DualBrainError(f"top_k must be 1 or more, not {self.top_k}")
        if not 1 <= self.max_new_tokens <= MAX_ANSWER_TOKENS:
            raise DualBrainError(f"max_new_tokens must be between 1 and {MAX_ANSWER_TOKENS}, not {self.max_new_tokens}")

    @property
    def uses_knowledge(self) -> bool:
        """Whether the knowledge network answers (the rest are the plain model, with or without passages)."""
        return self.mode.startswith("knowledge")
