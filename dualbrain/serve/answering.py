"""Answers from the server's knowledge bases, one at a time, on the library's one base model.

Answering activates a knowledge base's routed shards on the shared model, so two answers must not run at
once: a lock serialises them (one CPU answer already uses every core). Before a knowledge base answers,
the one that answered last takes its shards off, so each answer sees exactly its own knowledge.
Generation runs in threads of the answerer's own pool, so waiting answers never take the threads that other
routes (health, progress, the UI) run on; at most ``MAX_WAITING_ANSWERS`` answers run or wait, and more are
refused at once (429) instead of piling up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from typing import TypeVar

from dualbrain.answering import NO_KNOWLEDGE, AnswerConfig
from dualbrain.answering.prompts import chat_prompt
from dualbrain.api import DualBrain
from dualbrain.library import Library
from dualbrain.reasoning.generate import Generation
from dualbrain.serve.cores import CoreBudget

BASE_MODEL_ID = "base"  # the plain reasoning network, no knowledge
KB_MODEL_PREFIX = "dualbrain/"
MAX_WAITING_ANSWERS = 32


T = TypeVar("T")


class Busy(Exception):
    """Too many answers are running or waiting already."""


class Answerer:
    def __init__(self, library: Library, settings: AnswerConfig | None = None, cores: CoreBudget | None = None):
        """``settings``: what every answer is asked with, but its length (and the short-term memory, which a
        request may turn off); ``cores``: shared with the learning worker, so answers and learning never
        oversubscribe the CPU (``serve/cores.py``)."""
        self.library = library
        self.settings = settings or AnswerConfig()
        self.cores = cores
        self._last: DualBrain | None = None  # the knowledge base whose shards are on the model
        self._lock = threading.Lock()  # one answer at a time on the shared model
        self._slots = threading.BoundedSemaphore(MAX_WAITING_ANSWERS)
        # At least one thread: a pool cannot be empty, even when the limit (a setting) admits no answer.
        self._pool = ThreadPoolExecutor(max(MAX_WAITING_ANSWERS, 1), thread_name_prefix="answer")

    def run_async(self, job: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``job`` (an answer) in the answer pool; raises :class:`Busy` when every slot is taken."""
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{MAX_WAITING_ANSWERS} answers are running or waiting; try again shortly")

        def run() -> T:
            try:
                return job()
            finally:
                self._slots.release()

        return asyncio.get_running_loop().run_in_executor(self._pool, run)

    def delete(self, kb: str) -> None:
        """Delete knowledge base ``kb``, between answers (its shards come off the model first)."""
        with self._lock:
            if self._last is not None and self._last.kb.name == kb:
                self._last.release()
                self._last = None
            self.library.delete(kb)

    def drop_stale(self) -> None:
        """Let go, between answers, of what the server holds of documents no longer in force and of versions no
        longer serving: passages, vectors, routers, and shards on the model (merged copies, llama.cpp instances)."""
        with self._lock:
            opened = self.library.opened()
            for brain in opened:
                brain.answers.drop_stale()
            if self._last is not None and self._last not in opened:  # deleted meanwhile
                self._last.release()
                self._last = None
            if self._last is not None:
                version = self._last.kb.current_version()
                self._last.engine.keep_only(set(version.shard_ids) if version else set())

    def require_answerable(self, kb: str, short_term: bool = True) -> None:
        """Fail now, before a response starts, where knowledge base ``kb`` cannot answer: unknown (404), or nothing
        learned and, where the short-term memory may answer, nothing added either (400). Reads only: no lock."""
        self.library.open(kb).answers.answerable_version(self._short_term(short_term))

    def _short_term(self, asked: bool) -> bool:
        """Whether the short-term memory answers: where the request asks for it and the server allows it."""
        return self.settings.short_term and asked

    def generate(self, kb: str | None, text: str, max_new_tokens: int, on_text: Callable[[str], None] | None = None,
                 chat: bool = True, short_term: bool = True) -> Generation:
        """Answer with knowledge base ``kb``'s knowledge, or with the plain model (``kb`` None): ``text`` is
        the user's question (``chat``) or raw text to continue (OpenAI's legacy completions); ``short_term``
        False answers from the weights alone."""
        brain = self.library.open(kb) if kb is not None else None
        short_term = self._short_term(short_term)
        if brain is not None and self.settings.uses_knowledge:
            brain.answers.prepare_routing(short_term)  # outside the lock every knowledge base's answers share
        with self._lock, self.cores.answering_now() if self.cores else nullcontext():
            if self._last is not None and self._last is not brain:
                self._last.release()
            self._last = brain
            settings = replace(self.settings, max_new_tokens=max_new_tokens, short_term=short_term)
            if brain is not None:
                if chat:
                    return brain.generate(text, settings, on_text=on_text)
                return brain.complete(text, settings, on_text=on_text)
            engine = self.library.engine
            return engine.generate(chat_prompt(engine.reasoning, text) if chat else text, NO_KNOWLEDGE, settings, on_text)
