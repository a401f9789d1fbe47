"""A knowledge base's answers in every mode: route the question, build the mode's prompt, generate, check.

    answers = Answers(kb, engine)
    answers.generate("Who approves travel expenses?", AnswerConfig(mode="knowledge"))

The knowledge modes answer with the serving version's shards that the router picks for the question (one
read of ``CURRENT``, so an answer uses one version's shards even while a new one is published). An answer the
knowledge network gives is checked against the documents it learned (``knowledge/support.py``).
``knowledge+rag`` asks the weights first and reads passages only where the documents do not support that answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import nn

from dualbrain.answering import prompts
from dualbrain.answering.config import AnswerConfig
from dualbrain.answering.engine import NO_KNOWLEDGE, Engine, ShardSet
from dualbrain.answering.passages import Passages
from dualbrain.answering.routing import RoutingSettings, ShardRouter
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.support import CheckedAnswer
from dualbrain.reasoning.generate import Generation, TokenTrace
from dualbrain.store import KnowledgeBase, VersionRecord

# What a second opinion on an unsure answer generates: enough for its leading claim (knowledge/support.py).
SECOND_OPINION_TOKENS = 32


@dataclass(frozen=True)
class _Answer:
    generation: Generation
    handed_back: bool  # declined, the decline kept from the reader: the caller answers another way


class Answers:
    """Answers from one knowledge base, computed by a (possibly shared) :class:`Engine`."""

    def __init__(self, kb: KnowledgeBase, engine: Engine, routing: RoutingSettings | None = None):
        self.kb = kb
        self.engine = engine
        self.routing = routing or RoutingSettings()  # assigning other settings re-routes
        self.passages = Passages(kb)
        # (version id, routing settings) → router over that version's shards.
        self._router: tuple[tuple[str, RoutingSettings], ShardRouter] | None = None
        self._passage_vectors: dict[str, torch.Tensor] = {}  # routers of later versions reuse these

    def generate(self, question: str, config: AnswerConfig, documents: list[str] | None = None,
                 on_text: Callable[[str], None] | None = None) -> Generation:
        """The answer to ``question`` as ``config`` asks; ``documents`` replaces the ranked documents of the
        ``context`` mode; ``on_text`` receives the answer piece by piece (a checked answer once its leading claim
        is checked). A declined answer's generated text is in ``withheld``."""
        if not question.strip():
            raise DualBrainError("the question is empty")
        if documents is not None and config.mode != "context":
            raise DualBrainError("documents can only be given in the context mode")
        version, shards = self.knowledge_for(question) if config.uses_knowledge else (None, NO_KNOWLEDGE)
        if config.mode == "knowledge+rag" and config.check and shards:
            # Knowledge first (adaptive retrieval, arXiv 2212.10511): with passages in its prompt the network often
            # recites a neighbouring fact of a passage, where from its weights alone it answered right. So the
            # weights answer, and the passages are read only where the documents do not support that answer (not
            # where the network was unsure: read, it then states a passage's fact the question did not ask for).
            first = self._answer(question, question, "knowledge", version, shards, config, on_text, hold_declines=True)
            if not first.handed_back:
                return first.generation
            second = self._answer(question, self._with_passages(question, config, version), config.mode, version, shards,
                                  config, on_text).generation
            return replace(second, prompt_tokens=first.generation.prompt_tokens + second.prompt_tokens,
                           completion_tokens=first.generation.completion_tokens + second.completion_tokens,
                           first_token_seconds=first.generation.total_seconds + second.first_token_seconds,
                           total_seconds=first.generation.total_seconds + second.total_seconds)
        if config.mode in ("rag", "knowledge+rag"):
            asked = self._with_passages(question, config, version)
        elif config.mode == "context":
            texts = documents if documents is not None else self.passages.documents_by_relevance(question)
            asked = prompts.with_documents(question, texts, self.engine.reasoning, config.max_new_tokens)
        else:
            asked = question
        return self._answer(question, asked, config.mode, version, shards, config, on_text).generation

    def complete(self, text: str, config: AnswerConfig, on_text: Callable[[str], None] | None = None) -> Generation:
        """Continue ``text`` as raw model input (no chat template) with the knowledge routed for it."""
        if not text.strip():
            raise DualBrainError("the prompt is empty")
        version, shards = self.knowledge_for(text)
        return replace(self.engine.generate(text, shards, config, on_text), knowledge_version=version.id)

    @contextmanager
    def model(self, knowledge: bool, question: str | None = None) -> Iterator[nn.Module]:
        """The PyTorch model that answers: base + knowledge, or the plain base model. With ``question``, the
        knowledge is the shards the router picks for it (possibly none); without, every shard of the serving
        version."""
        if not knowledge:
            shards = NO_KNOWLEDGE
        elif question is not None:
            shards = self.knowledge_for(question)[1]
        else:
            version = self.serving_version()
            shards = self._shard_set(list(version.shard_ids))
        with self.engine.model(shards) as model:
            yield model

    def knowledge_for(self, question: str) -> tuple[VersionRecord, ShardSet]:
        """The serving version and its shards routed for ``question``."""
        version = self.serving_version()
        return version, self._shard_set(self.route(question, version))

    def route(self, question: str, version: VersionRecord) -> list[str]:
        """The shards of ``version`` that answer ``question`` (see ``answering/routing.py``)."""
        if self._router is None or self._router[0] != (version.id, self.routing):
            shard_documents = {shard_id: [(doc_id, self.kb.document_text(doc_id)) for doc_id in doc_ids]
                               for shard_id, doc_ids in self.kb.shard_documents(version).items()}
            router = ShardRouter(shard_documents, self.routing, passage_vectors=self._passage_vectors)
            self._router = ((version.id, self.routing), router)
        return self._router[1].route(question)

    def serving_version(self) -> VersionRecord:
        """The current version, with the shards of any earlier one taken off the engine."""
        version = self.kb.current_version()
        if version is None:
            raise DualBrainError(
                f"knowledge base '{self.kb.name}' has not learned anything yet "
                f"(run: dualbrain learn --kb {self.kb.name} FILES)"
            )
        # Checked even when no shard is routed: the knowledge base answers with another model than it learned for.
        self.engine.reasoning.require_trained_on(version.base_identity, f"knowledge base '{self.kb.name}'")
        self.engine.keep_only(set(version.shard_ids))
        return version

    def _shard_set(self, shard_ids: list[str]) -> ShardSet:
        return ShardSet(tuple((shard_id, self.kb.shard_dir(shard_id)) for shard_id in shard_ids))

    def _with_passages(self, question: str, config: AnswerConfig, version: VersionRecord | None) -> str:
        """``question`` with the passages ``config`` retrieves for it; with a knowledge ``version``, from the
        documents as it learned them, so passages and weights agree."""
        retriever = self.passages.retriever(config.retriever, learned_by=version)
        return prompts.with_passages(question, retriever.retrieve(question, config.top_k))

    def _answer(self, question: str, asked: str, mode: str, version: VersionRecord | None, shards: ShardSet,
                config: AnswerConfig, on_text: Callable[[str], None] | None, hold_declines: bool = False) -> _Answer:
        """The answer to ``asked`` (``question`` with what ``mode`` puts in the prompt), checked where a shard answers;
        with ``hold_declines``, a decline the caller can answer otherwise is not passed to ``on_text``."""
        prompt = prompts.chat_prompt(self.engine.reasoning, asked)
        # Only answers the knowledge network gives are checked: it recites what it learned in the documents' words,
        # while an answer that reads passages rewords them too freely for word overlap (docs/recipe.md), and a
        # question the router sends to no shard is not about the documents: the plain model answers it as it is.
        # How sure the network was of its fact is checked in the knowledge mode alone, where the threshold was
        # measured; with passages in the prompt a model is sure of what it reads.
        checked, trace = None, None
        if config.check and shards:
            tokenizer = self.engine.reasoning.tokenizer
            trace = TokenTrace(tokenizer) if mode == "knowledge" else None
            checked = CheckedAnswer(self.passages.support_index(version), question, on_text, trace,
                                    hold_declines=hold_declines)
        generation = self.engine.generate(prompt, shards, config, checked or on_text, trace)
        generation = replace(generation, knowledge_version=version.id if version else None)
        if checked:  # an answer the network was unsure of is compared with what it says when it starts otherwise
            started = time.perf_counter()
            start = checked.review(generation.text)
            second = None if start is None else start + self._raw_continuation(prompt + start, shards, config)
            delivered = checked.finish(generation.text, second)
            # The reader waits for the second opinion too.
            generation = replace(generation, total_seconds=generation.total_seconds + time.perf_counter() - started)
        else:
            delivered = generation.text
        if delivered != generation.text:
            generation = replace(generation, text=delivered, withheld=generation.text)
        return _Answer(generation, checked is not None and checked.handed_back)

    def _raw_continuation(self, text: str, shards: ShardSet, config: AnswerConfig) -> str:
        """The greedy continuation of ``text`` as generated (not stripped), as long as a leading claim needs."""
        trace = TokenTrace(self.engine.reasoning.tokenizer)
        self.engine.generate(text, shards, replace(config, max_new_tokens=SECOND_OPINION_TOKENS), None, trace)
        return trace.text(trace.ids)
