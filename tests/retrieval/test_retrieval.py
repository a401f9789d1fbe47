"""Chunking, BM25 ranking and the context budget of the retrieval baselines."""

from pathlib import Path

from transformers import AutoTokenizer

from dualbrain.retrieval import BM25Retriever, chunk_documents
from dualbrain.retrieval.context import documents_by_relevance, fit_to_budget

DOCS = [
    ("d1", "Quillfeather was founded in 1983. The chief executive of Quillfeather is Ottilie Brannock."),
    ("d2", "The Wrenlark 9 flies 740 kilometres on one charge. Its battery recharges in 38 minutes."),
]


def test_chunks_respect_size_and_sentence_boundaries() -> None:
    chunks = chunk_documents(DOCS, max_chars=60)
    assert all(len(c.text) <= 60 for c in chunks)
    assert [c.text for c in chunks if c.document_id == "d1"] == [
        "Quillfeather was founded in 1983.", "The chief executive of Quillfeather is Ottilie Brannock."
    ]


def test_bm25_puts_the_matching_passage_first() -> None:
    retriever = BM25Retriever(chunk_documents(DOCS, max_chars=60))
    assert "740 kilometres" in retriever.retrieve("How many kilometres does the Wrenlark fly?", k=2)[0].text
    assert len(retriever.retrieve("anything", k=50)) == len(retriever.chunks)


def test_context_orders_documents_and_fits_the_budget(tiny_model_dir: Path) -> None:
    retriever = BM25Retriever(chunk_documents(DOCS, max_chars=60))
    assert documents_by_relevance(retriever, "Wrenlark battery recharge") == ["d2", "d1"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = [text for _, text in DOCS]
    assert fit_to_budget(texts, tokenizer, 10_000) == texts
    cut = fit_to_budget(texts, tokenizer, 12)
    assert len(cut) == 1 and len(tokenizer(cut[0], add_special_tokens=False)["input_ids"]) <= 12


def test_embedding_retrieval_matches_meaning_not_words() -> None:
    from dualbrain.retrieval.embed import EmbeddingRetriever

    retriever = EmbeddingRetriever(chunk_documents(DOCS, max_chars=60))
    # No word of the question occurs in the passage it should find.
    assert "740 kilometres" in retriever.retrieve("How far can the aircraft travel?", k=1)[0].text
