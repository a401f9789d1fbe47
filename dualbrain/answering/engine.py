"""What computes answers: the frozen reasoning network, run by PyTorch or by llama.cpp, with knowledge shards on it.

One :class:`Engine` is shared by every knowledge base a process answers from (the server's, the API's), so the
base model is loaded once. A request names the shards it answers with as a :class:`ShardSet`, like vLLM's
``LoRARequest``: the engine attaches what it lacks and activates exactly those. Attached shards stay across
requests (``knowledge/composition.py``); whoever switches the engine to another knowledge base's shards first
calls :meth:`Engine.release`, because shard ids are unique only within one knowledge base.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from dualbrain.answering.config import AnswerConfig
from dualbrain.knowledge.composition import AttachedShards
from dualbrain.knowledge.export import write_gguf_lora
from dualbrain.knowledge.network import ADAPTER_SUBDIR
from dualbrain.reasoning.generate import Generation, TokenTrace, continue_text
from dualbrain.reasoning.llama_cpp import LlamaCpp, llama_cpp_for
from dualbrain.reasoning.loader import ReasoningNetwork, load_reasoning_network


@dataclass(frozen=True)
class ShardSet:
    """The published shards one request answers with, as (id, folder) pairs; empty: the plain model."""

    shards: tuple[tuple[str, Path], ...] = ()

    @property
    def ids(self) -> list[str]:
        return [shard_id for shard_id, _ in self.shards]

    def folders(self) -> dict[str, Path]:
        return dict(self.shards)

    def __bool__(self) -> bool:
        return bool(self.shards)


NO_KNOWLEDGE = ShardSet()


class Engine:
    """The reasoning network, loaded on first use, and the engines that compute its answers."""

    def __init__(self, model: str | Path | None, models_dir: Path):
        """``model``: a model directory or None for the bundled default, loaded (converted once) into ``models_dir``."""
        self._model_source = model
        self._models_dir = models_dir
        self._reasoning: ReasoningNetwork | None = None
        self._attached: AttachedShards | None = None
        self._llama_cpp: LlamaCpp | None = None  # made when the llama.cpp engine first answers

    @property
    def reasoning(self) -> ReasoningNetwork:
        """The frozen base model, loaded on first use."""
        if self._reasoning is None:
            self._reasoning = load_reasoning_network(self._model_source, self._models_dir)
        return self._reasoning

    def generate(self, prompt: str, shards: ShardSet, settings: AnswerConfig, on_text: Callable[[str], None] | None = None,
                 trace: TokenTrace | None = None) -> Generation:
        """The greedy continuation of ``prompt`` (the model's whole input) with ``shards`` active, computed by
        ``settings.engine`` up to ``settings.max_new_tokens``; ``trace`` records its tokens' probabilities."""
        if settings.engine == "llama.cpp":
            adapters = [folder / ADAPTER_SUBDIR for folder in shards.folders().values()]
            write_lora = lambda path: write_gguf_lora(adapters, path, self.reasoning.model.config)  # noqa: E731
            # Published shards never change and their ids are never reused: the ids name the knowledge.
            return self._llama_cpp_engine().continue_text(prompt, settings.max_new_tokens, on_text, frozenset(shards.ids),
                                                          write_lora, trace)
        with self.model(shards) as model:
            return continue_text(model, self.reasoning.tokenizer, prompt, settings.max_new_tokens, on_text, trace)

    @contextmanager
    def model(self, shards: ShardSet) -> Iterator[nn.Module]:
        """The PyTorch model with exactly ``shards`` active (none: the plain base model)."""
        with self._attached_shards().answering(shards.folders()) as model:
            yield model

    def keep_only(self, shard_ids: set[str]) -> None:
        """Take off every shard not in ``shard_ids`` (the shards of the version serving now)."""
        self._attached_shards().keep_only(shard_ids)
        if self._llama_cpp is not None:
            self._llama_cpp.keep_only(shard_ids)

    def release(self) -> None:
        """Take every shard off the base model (before another knowledge base answers, and before training,
        which attaches its own knowledge network)."""
        if self._attached is not None:
            self._attached.detach()
        if self._llama_cpp is not None:
            self._llama_cpp.release()

    def _attached_shards(self) -> AttachedShards:
        if self._attached is None:
            self._attached = AttachedShards(self.reasoning)
        return self._attached

    def _llama_cpp_engine(self) -> LlamaCpp:
        if self._llama_cpp is None:
            self._llama_cpp = llama_cpp_for(self.reasoning)
        return self._llama_cpp
