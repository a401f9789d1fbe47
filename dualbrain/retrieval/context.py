"""Fill a token budget with whole documents, most relevant first: the long-context baseline."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from dualbrain.retrieval.bm25 import BM25Retriever


def documents_by_relevance(retriever: BM25Retriever, question: str) -> list[str]:
    """Document ids ordered by their best passage's BM25 rank for ``question``."""
    ranked = retriever.retrieve(question, k=len(retriever.chunks))
    return list(dict.fromkeys(chunk.document_id for chunk in ranked))


def fit_to_budget(texts: list[str], tokenizer: PreTrainedTokenizerBase, max_tokens: int) -> list[str]:
    """The leading ``texts`` that fit in ``max_tokens``; the first one that overflows is cut to fit."""
    kept: list[str] = []
    remaining = max_tokens
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > remaining:
            if remaining > 0:
                kept.append(tokenizer.decode(ids[:remaining]))
            break
        kept.append(text)
        remaining -= len(ids)
    return kept
