"""The reasoning network run by llama.cpp (``llama-cpp-python``): an optional answering engine.

llama.cpp decodes 4–6× faster than PyTorch on a CPU (docs/scaling.md). It runs a GGUF file of the very base
model the knowledge was trained on — for the bundled default, the Q4_1 GGUF its fp32 weights were
dequantised from; for a model directory, the one ``.gguf`` file placed in it — and takes the knowledge as a
GGUF LoRA (``knowledge/export.py``), applied unmerged.

One llama.cpp instance serves the plain model and one more each set of knowledge in use (the
``cached_sets`` most recent), because an instance takes its LoRA when it loads. The LoRA file is written to
a temporary folder and deleted once loaded: nothing derived from a document stays on disk, so forgetting has
nothing extra to purge. Prompts are tokenized by the model's own Hugging Face tokenizer, so both engines
read exactly the same tokens; llama.cpp keeps the KV cache of the longest prefix a prompt shares with the
previous one (the chat template's system prompt), so that prefix is read once.
"""

from __future__ import annotations

import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import PreTrainedTokenizerBase

from dualbrain.errors import DualBrainError
from dualbrain.reasoning.generate import Generation, TokenTrace, require_window
from dualbrain.reasoning.loader import ReasoningNetwork

if TYPE_CHECKING:
    from llama_cpp import Llama


def llama_cpp_for(reasoning: ReasoningNetwork) -> "LlamaCpp":
    """The llama.cpp engine for ``reasoning``: its GGUF file, its tokenizer, this process's threads."""
    if reasoning.gguf is None:
        raise DualBrainError(f"the llama.cpp engine needs a GGUF file of '{reasoning.name}': put one .gguf of it "
                             "(llama.cpp's convert_hf_to_gguf.py) in the model's directory")
    return LlamaCpp(reasoning.gguf, reasoning.tokenizer, reasoning.context_window, torch.get_num_threads())


class LlamaCpp:
    """llama.cpp instances of one GGUF base model: the plain one and the recently used sets of knowledge."""

    def __init__(self, gguf: Path, tokenizer: PreTrainedTokenizerBase, context_window: int, threads: int,
                 cached_sets: int = 1):
        try:
            import llama_cpp  # noqa: F401  (optional: only this engine needs it)
        except ImportError:
            raise DualBrainError("the llama.cpp engine needs llama-cpp-python (pip install llama-cpp-python)") from None
        if cached_sets < 1:
            raise ValueError(f"cached_sets must be 1 or more, not {cached_sets}")
        self.gguf = gguf
        self.tokenizer = tokenizer
        self.context_window = context_window
        self.threads = threads
        self.cached_sets = cached_sets
        self._plain: Llama | None = None
        self._with_knowledge: OrderedDict[frozenset[str], Llama] = OrderedDict()  # least recently used first

    def continue_text(
        self,
        text: str,
        max_new_tokens: int,
        on_text: Callable[[str], None] | None = None,
        knowledge: frozenset[str] = frozenset(),
        write_lora: Callable[[Path], None] | None = None,
        trace: TokenTrace | None = None,
    ) -> Generation:
        """The greedy continuation of ``text`` (the model's whole input), timed, as
        :func:`dualbrain.reasoning.generate.continue_text` gives it. With ``knowledge`` (the names of a set
        of knowledge, e.g. shard ids), the instance for that set answers; ``write_lora(path)`` writes the
        set's GGUF LoRA there when the instance has to be made; ``trace`` records the tokens' probabilities."""
        llm = self._instance(knowledge, write_lora)
        started = time.perf_counter()
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        require_window(len(ids), max_new_tokens, self.context_window)
        new: list[int] = []
        first_token_at, sent = None, ""
        for token in self._greedy(llm, ids, max_new_tokens, trace):
            first_token_at = first_token_at or time.perf_counter()
            new.append(token)
            if on_text:
                sent = _hand_on(self.tokenizer.decode(new, skip_special_tokens=True), sent, on_text)
        finished = time.perf_counter()
        if on_text:
            _hand_on(self.tokenizer.decode(new, skip_special_tokens=True), sent, on_text, final=True)
        completion = self.tokenizer.decode(new, skip_special_tokens=True).strip()
        return Generation(completion, len(ids), len(new), (first_token_at or finished) - started, finished - started)

    def keep_only(self, names: set[str]) -> None:
        """Close the instances whose knowledge names anything not in ``names`` (e.g. a forgotten shard)."""
        for knowledge in [knowledge for knowledge in self._with_knowledge if not knowledge <= names]:
            self._with_knowledge.pop(knowledge).close()

    def release(self) -> None:
        """Close every instance (their memory goes back at once)."""
        for llm in [self._plain, *self._with_knowledge.values()]:
            if llm is not None:
                llm.close()
        self._plain = None
        self._with_knowledge.clear()

    def _greedy(self, llm: Llama, ids: list[int], max_new_tokens: int, trace: TokenTrace | None) -> Iterator[int]:
        from llama_cpp import LogitsProcessorList

        eos = self.tokenizer.eos_token_id
        # generate() is endless and reuses the KV cache of the prefix the previous prompt shares.
        processors = LogitsProcessorList([trace]) if trace else None
        for count, token in enumerate(llm.generate(ids, temp=0.0, top_k=1, logits_processor=processors), start=1):
            if token == eos:
                return
            yield token
            if count == max_new_tokens:
                return

    def _instance(self, knowledge: frozenset[str], write_lora: Callable[[Path], None] | None) -> Llama:
        if not knowledge:
            if self._plain is None:
                self._plain = self._load(None)
            return self._plain
        if knowledge in self._with_knowledge:
            self._with_knowledge.move_to_end(knowledge)
            return self._with_knowledge[knowledge]
        if write_lora is None:
            raise ValueError("a new set of knowledge needs write_lora")
        with tempfile.TemporaryDirectory(prefix="dualbrain-lora-") as folder:
            lora = Path(folder) / "knowledge.gguf"
            write_lora(lora)
            llm = self._load(lora)  # llama.cpp reads the adapter into memory: the file can go
        self._with_knowledge[knowledge] = llm
        while len(self._with_knowledge) > self.cached_sets:
            self._with_knowledge.popitem(last=False)[1].close()
        return llm

    def _load(self, lora: Path | None) -> Llama:
        from llama_cpp import Llama

        try:
            return Llama(model_path=str(self.gguf), lora_path=str(lora) if lora else None, n_ctx=self.context_window,
                         n_threads=self.threads, verbose=False)
        except (ValueError, RuntimeError) as error:
            raise DualBrainError(f"llama.cpp cannot load {self.gguf.name}{' with the knowledge' if lora else ''}: {error}") from None


def _hand_on(text: str, sent: str, on_text: Callable[[str], None], final: bool = False) -> str:
    """Give ``on_text`` what ``text`` (the answer so far) adds to ``sent``; returns what has been sent.
    A token may end inside a multi-byte character: that text waits for the next token, unless ``final``."""
    if text.startswith(sent) and len(text) > len(sent) and (final or not text.endswith("\ufffd")):
        on_text(text[len(sent):])
        return text
    return sent
