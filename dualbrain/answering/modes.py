"""A knowledge base's answers in every mode: route the question, build the mode's prompt, generate, check.

    answers = Answers(kb, engine)
    answers.generate("Who approves travel expenses?", AnswerConfig(mode="knowledge"))

The knowledge modes answer with the serving version's shards that the router picks for the question (one
read of ``CURRENT``, so an answer uses one version's shards even while a new one is published). An answer the
knowledge network gives is checked against the documents it learned (``knowledge/support.py``).
``knowledge+rag`` asks the weights first and reads passages only where the documents do not support that answer.

Two memories, like the brain's short and long term: a document is answerable the moment it is added, from its
passages (the short-term memory), and from the weights alone once a published shard holds it. The router treats
the documents no published shard holds as one more shard; a question routed there is asked with their passages
in the prompt, in the grounded form the knowledge network trains for. Every answer says which memory it came
from (``Generation.memory``).
"""

from __future__ import annotations

import threading
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
from dualbrain.answering.routing import SHORT_TERM, RoutingSettings, ShardRouter
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.support import CheckedAnswer
from dualbrain.reasoning.generate import Generation, TokenTrace
from dualbrain.store import KnowledgeBase, VersionRecord
from dualbrain.store.pieces import document_of

# What a second opinion on an unsure answer generates: enough for its leading claim (knowledge/support.py).
SECOND_OPINION_TOKENS = 32


@dataclass(frozen=True)
class _Answer:
    generation: Generation
    handed_back: bool  # declined, the decline kept from the reader: the caller answers another way


@dataclass(frozen=True)
class Routed:
    """What answers a question: the serving version (None before the first publish), the shards routed for the
    question, and whether the short-term memory (the documents no published shard holds yet) answers it."""

    version: VersionRecord | None
    shards: ShardSet
    short_term: bool = False

    @property
    def memory(self) -> str | None:
        """``knowledge`` (the weights), ``short-term`` or ``both``; None: the plain model answers."""
        if self.shards and self.short_term:
            return "both"
        return "knowledge" if self.shards else SHORT_TERM if self.short_term else None


class Answers:
    """Answers from one knowledge base, computed by a (possibly shared) :class:`Engine`."""

    def __init__(self, kb: KnowledgeBase, engine: Engine, routing: RoutingSettings | None = None):
        self.kb = kb
        self.engine = engine
        self.routing = routing or RoutingSettings()  # assigning other settings re-routes
        self.passages = Passages(kb)
        # (version id, routing settings, short-term memory or not, documents in force) → router over what answers.
        self._router: tuple[tuple, ShardRouter] | None = None
        self._passage_vectors: dict[str, torch.Tensor] = {}  # routers of later versions reuse these
        self._routing_lock = threading.Lock()  # the router and its vectors are built by one thread at a time

    def generate(self, question: str, config: AnswerConfig, documents: list[str] | None = None,
                 on_text: Callable[[str], None] | None = None) -> Generation:
        """The answer to ``question`` as ``config`` asks; ``documents`` replaces the ranked documents of the
        ``context`` mode; ``on_text`` receives the answer piece by piece (a checked answer once its leading claim
        is checked). A declined answer's generated text is in ``withheld``."""
        if not question.strip():
            raise DualBrainError("the question is empty")
        if documents is not None and config.mode != "context":
            raise DualBrainError("documents can only be given in the context mode")
        routed = self.knowledge_for(question, config.short_term) if config.uses_knowledge else Routed(None, NO_KNOWLEDGE)
        return replace(self._generate(question, config, routed, documents, on_text), memory=routed.memory)

    def complete(self, text: str, config: AnswerConfig, on_text: Callable[[str], None] | None = None) -> Generation:
        """Continue ``text`` as raw model input (no chat template) with the knowledge routed for it."""
        if not text.strip():
            raise DualBrainError("the prompt is empty")
        routed = self.knowledge_for(text)
        return replace(self.engine.generate(text, routed.shards, config, on_text), knowledge_version=routed.version.id,
                       memory=routed.memory)

    @contextmanager
    def model(self, knowledge: bool, question: str | None = None) -> Iterator[nn.Module]:
        """The PyTorch model that answers: base + knowledge, or the plain base model. With ``question``, the
        knowledge is the shards the router picks for it (possibly none); without, every shard of the serving
        version."""
        if not knowledge:
            shards = NO_KNOWLEDGE
        elif question is not None:
            shards = self.knowledge_for(question).shards
        else:
            version = self.serving_version()
            shards = self._shard_set(list(version.shard_ids))
        with self.engine.model(shards) as model:
            yield model

    def knowledge_for(self, question: str, short_term: bool = False) -> Routed:
        """The serving version, its shards routed for ``question`` and, with ``short_term``, whether the documents
        no published shard holds yet answer it (then a knowledge base that has learned nothing yet answers too)."""
        version = self.serving_version(short_term)
        routes = self.route(question, version, short_term)
        return Routed(version, self._shard_set([route for route in routes if route != SHORT_TERM]), SHORT_TERM in routes)

    def route(self, question: str, version: VersionRecord | None, short_term: bool = False) -> list[str]:
        """The shards of ``version`` that answer ``question`` (see ``answering/routing.py``), and :data:`SHORT_TERM`
        where, with ``short_term``, the documents ``version`` has not learned answer it. Only documents in force
        route: a question on a superseded or forgotten document's facts is not sent to the shard still holding them."""
        with self._routing_lock:
            return self._router_for(version, short_term).route(question)

    def prepare_routing(self, short_term: bool = False) -> None:
        """Build the router of the version serving now (every passage embedded: long, for a big knowledge base), so
        that routing a question finds it ready. A server calls this before it takes the one answer lock that all
        knowledge bases share, so that one tenant's new documents do not hold up the others' answers."""
        with self._routing_lock:
            self._router_for(self.kb.current_version(), short_term)

    def _router_for(self, version: VersionRecord | None, short_term: bool) -> ShardRouter:
        """The router over what answers with ``version`` now, built if what answers has changed; routing lock held."""
        in_force = [doc.id for doc in self.kb.documents() if doc.in_force]
        key = (version.id if version else None, self.routing, short_term, tuple(in_force))
        if self._router is None or self._router[0] != key:
            answering = set(in_force)
            routes = {shard_id: [piece for piece in pieces if document_of(piece) in answering]
                      for shard_id, pieces in self.kb.shard_documents(version).items()}
            if short_term:
                held = set(version.document_ids) if version else set()
                routes[SHORT_TERM] = [doc_id for doc_id in in_force if doc_id not in held]
            documents = {route: list(self.kb.piece_texts(pieces).items()) for route, pieces in routes.items() if pieces}
            self._router = (key, ShardRouter(documents, self.routing, passage_vectors=self._passage_vectors))
        return self._router[1]

    def drop_stale(self) -> None:
        """Drop from memory every passage, vector and router made from a document no longer in force, now rather
        than at the next question: a forgotten document's text must not stay in a serving process."""
        in_force = {doc.id for doc in self.kb.documents() if doc.in_force}
        with self._routing_lock:
            if self._router is not None and not set(self._router[0][3]) <= in_force:
                self._router = None
                self._passage_vectors.clear()  # keyed by passage text; the next router embeds what is in force again
        self.passages.drop_stale(in_force)

    def answerable_version(self, short_term: bool = False) -> VersionRecord | None:
        """The current version; None where nothing is published yet but, with ``short_term``, documents answer from
        the short-term memory; an error where nothing can answer. Reads only: callers outside the answer lock may
        ask (the server does, before a response starts)."""
        version = self.kb.current_version()
        if version is None and not (short_term and any(doc.in_force for doc in self.kb.documents())):
            raise DualBrainError(
                f"knowledge base '{self.kb.name}' has not learned anything yet "
                f"(run: dualbrain learn --kb {self.kb.name} FILES)"
            )
        return version

    def serving_version(self, short_term: bool = False) -> VersionRecord | None:
        """:meth:`answerable_version`, with the shards of any other version taken off the engine."""
        version = self.answerable_version(short_term)
        if version is None:
            self.engine.keep_only(set())
            return None
        # Checked even when no shard is routed: the knowledge base answers with another model than it learned for.
        self.engine.reasoning.require_trained_on(version.base_identity, f"knowledge base '{self.kb.name}'")
        self.engine.keep_only(set(version.shard_ids))
        return version

    def _generate(self, question: str, config: AnswerConfig, routed: Routed, documents: list[str] | None,
                  on_text: Callable[[str], None] | None) -> Generation:
        version, shards = routed.version, routed.shards
        if routed.short_term:
            # Not learned yet: the passages of the documents no shard holds answer (knowledge+rag reads every
            # document's, as it always does), with whatever shards the question routes to beside them.
            asked = self._with_passages(question, config, version, short_term=config.mode == "knowledge")
            return self._answer(question, asked, "knowledge+rag", version, shards, config, on_text).generation
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

    def _shard_set(self, shard_ids: list[str]) -> ShardSet:
        return ShardSet(tuple((shard_id, self.kb.shard_dir(shard_id)) for shard_id in shard_ids))

    def _with_passages(self, question: str, config: AnswerConfig, version: VersionRecord | None,
                       short_term: bool = False) -> str:
        """``question`` with the passages ``config`` retrieves for it; with a knowledge ``version``, from the
        documents as it learned them, so passages and weights agree; with ``short_term``, from the documents
        ``version`` has not learned only."""
        if short_term:
            retriever = self.passages.short_term_retriever(config.retriever, version)
        else:
            retriever = self.passages.retriever(config.retriever, learned_by=version)
        return prompts.with_passages(question, retriever.retrieve(question, config.top_k), self.engine.reasoning,
                                     config.max_new_tokens)

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
