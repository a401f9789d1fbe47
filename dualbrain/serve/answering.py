"""One frozen base model shared by every knowledge base the server answers from.

Answering activates a knowledge base's routed shards on the shared model, so two answers must not run at
once: a lock serialises them (one CPU answer already uses every core). Before a knowledge base answers,
the one that answered last takes its shards off, so each answer sees exactly its own knowledge.
Generation runs in a worker thread so the event loop keeps serving other requests (health, progress).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from dualbrain.api import DualBrain
from dualbrain.reasoning.generate import Generation, answer, continue_text
from dualbrain.reasoning.loader import ReasoningNetwork, load_reasoning_network
from dualbrain.store import Home

BASE_MODEL_ID = "base"  # the plain reasoning network, no knowledge
KB_MODEL_PREFIX = "dualbrain/"


class Answerer:
    def __init__(self, home: Home, model: str | Path | None = None):
        self.home = home
        self._model_source = model
        self._reasoning: ReasoningNetwork | None = None
        self._brains: dict[str, DualBrain] = {}
        self._last: DualBrain | None = None
        self._lock = threading.Lock()  # one answer at a time on the shared model
        self._brains_lock = threading.Lock()

    @property
    def reasoning(self) -> ReasoningNetwork:
        if self._reasoning is None:
            self._reasoning = load_reasoning_network(self._model_source, self.home.models_dir)
        return self._reasoning

    def brain(self, kb: str) -> DualBrain:
        """The knowledge base ``kb`` on the shared model (raises UnknownKnowledgeBase)."""
        with self._brains_lock:
            if kb not in self._brains:
                self._brains[kb] = DualBrain(self.home.open_kb(kb), self.home, reasoning=self.reasoning)
            return self._brains[kb]

    def forget_brain(self, kb: str) -> None:
        """Drop a deleted knowledge base (its shards come off the model first)."""
        with self._lock:
            brain = self._brains.pop(kb, None)
            if brain is not None:
                brain.release()
                self._last = None if self._last is brain else self._last

    def generate(self, kb: str | None, text: str, max_new_tokens: int, on_text: Callable[[str], None] | None = None,
                 chat: bool = True) -> Generation:
        """Answer with knowledge base ``kb``'s knowledge, or with the plain model (``kb`` None): ``text`` is
        the user's question (``chat``) or raw text to continue (OpenAI's legacy completions)."""
        brain = self.brain(kb) if kb is not None else None
        with self._lock:
            if self._last is not None and self._last is not brain:
                self._last.release()
            self._last = brain
            if brain is not None:
                if chat:
                    return brain.generate(text, max_new_tokens=max_new_tokens, on_text=on_text)
                return brain.complete(text, max_new_tokens=max_new_tokens, on_text=on_text)
            generate = answer if chat else continue_text
            return generate(self.reasoning.model, self.reasoning.tokenizer, text, max_new_tokens, on_text)
