"""`dualbrain bench perf`: learning and serving speed, measured side by side in one run.

**Learning.** One epoch over the same training examples (the views `learn` makes of the fictional
organisations' documents), each row with a fresh knowledge network of the same shape, same batch size,
same learning rate:

* ``naive`` — what a PEFT + Hugging Face user writes first: shuffled batches padded to the longest row,
  the model's own loss (logits at every position), fp32, the model's default attention;
* one row per lever, each adding one to the row above: bf16 autocast, length-grouped batches, logits
  only where a target token is predicted;
* ``dualbrain`` — the training of ``dualbrain learn`` (``learn_documents``, without self-study questions) (all of the above, plus the
  training copy of the frozen base: bf16 weights stored once, eager attention on CPU);
* ``ceiling`` — the dualbrain training step on dense rows of ``max_tokens`` real tokens with the same
  share of target positions: no padding, no short rows, no data loading. What the hardware gives for this
  adapter; the loop's share of it is what its batching and bookkeeping cost.

Throughput counts real (non-padding) tokens, so every row is credited for the same work.

**Serving.** Greedy decoding, one prompt at a time (a chat), of the same prompts for the same number of
new tokens: the plain base model, the base with the shard learned above attached as an unmerged PEFT
adapter, and dualbrain's answering path (``AttachedShards``: a merged copy per set of active shards); for
the bundled default model also llama.cpp (llama-cpp-python) on its Q4_1 GGUF, plain and with the shard
exported as a GGUF LoRA.

Peak resident memory of the process is reported after each part.

**Cost growth.** ``dualbrain learn`` (one epoch, no self-study questions) of corpora of 1, 2, 4, 8, 16
organisations into a new knowledge base, each in a fresh process so that its peak memory is its own:
seconds per character should stay flat (cost linear in the corpus) and memory bounded by the shard size.

**Answering memory.** The first of those knowledge bases answers the serving prompts' questions in a
fresh process per engine (PyTorch with its merged copy; llama.cpp where the model has a GGUF): the peak
resident memory of a process that only answers.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader, RandomSampler
from transformers.trainer_pt_utils import LengthGroupedSampler

from dualbrain.api import DualBrain
from dualbrain.bench.changes import write_documents
from dualbrain.bench.fictional import generate_corpus
from dualbrain.knowledge.composition import AttachedShards
from dualbrain.knowledge.export import peft_to_gguf
from dualbrain.knowledge.network import ADAPTER_SUBDIR, LoraKnowledge
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.recipe import SourceDocument, learn_documents, training_examples
from dualbrain.knowledge.loss import IGNORE_INDEX, target_loss
from dualbrain.knowledge.trainer import TrainSettings, collate_rows, training_copy, training_rows
from dualbrain.quiet import quiet_libraries
from dualbrain.reasoning.loader import ReasoningNetwork, bundled_gguf, load_reasoning_network
from dualbrain.reasoning.prompting import question_prompt
from dualbrain.store import Home

# The learning rows below naive, in order; each adds its lever to the row above.
LEVERS = ("bf16 autocast", "length-grouped batches", "logits at targets only")


@dataclass(frozen=True)
class PerfConfig:
    organisations: int = 2  # fictional organisations whose documents make the training examples
    prompts: int = 6  # prompts decoded per serving row
    new_tokens: int = 48  # tokens generated per prompt (always all of them)
    growth: tuple[int, ...] = (1, 2, 4, 8, 16)  # corpus sizes, in organisations, for the cost-growth rows
    seed: int = 0

    def __post_init__(self) -> None:
        if self.organisations < 1 or self.prompts < 1 or self.new_tokens < 1 or not all(size >= 1 for size in self.growth):
            raise ValueError("the perf benchmark needs at least 1 organisation, 1 prompt, 1 new token and corpus sizes of 1 or more")


def run_perf(
    config: PerfConfig,
    model: str | Path | None,
    learn_config: LearnConfig,
    models_dir: Path,
    on_row: Callable[[str], None] | None = None,
) -> dict:
    """Measure every learning and serving row (module docstring); ``on_row(name)`` before each."""
    reasoning = load_reasoning_network(model, models_dir)
    corpus = generate_corpus(config.organisations, seed=config.seed)
    settings = replace(learn_config.train, epochs=1, min_steps=0)
    examples = training_examples(list(corpus.documents.items()), reasoning.tokenizer, replace(learn_config, train=settings))
    rows = training_rows(examples, reasoning.tokenizer, settings.max_tokens)
    network = LoraKnowledge(learn_config.network)  # the levers measured are LoRA's
    announce = on_row or (lambda name: None)

    learning = []
    for levers in range(len(LEVERS) + 1):
        name = "naive" if levers == 0 else f"+ {LEVERS[levers - 1]}"
        announce(name)
        learning.append({"row": name, **_reference_epoch(reasoning, network, rows, settings, set(LEVERS[:levers]))})
    with tempfile.TemporaryDirectory() as folder:
        announce("dualbrain")
        shard = Path(folder)
        documents = [SourceDocument(name, "", name, text) for name, text in corpus.documents.items()]
        metrics = learn_documents(reasoning, documents, replace(learn_config, train=settings, self_study=False), shard)
        learning.append({"row": "dualbrain", "tokens": metrics["tokens_trained"], "steps": metrics["steps"],
                         "seconds": metrics["train_seconds"]})
        announce("ceiling")
        learning.append({"row": "ceiling", **_ceiling(reasoning, network, rows, settings)})
        learning_rss = _peak_rss_mb()
        questions = [q.question for q in random.Random(config.seed).sample(corpus.questions, config.prompts)]
        prompts = [reasoning.tokenizer(question_prompt(reasoning.tokenizer, question), add_special_tokens=False)["input_ids"]
                   for question in questions]
        serving = _serving(reasoning, shard, prompts, config, announce)
        if model is None:  # the bundled default: its GGUF is the llama.cpp base
            serving += _serving_llama_cpp(reasoning, shard, prompts, config, announce)
    with tempfile.TemporaryDirectory() as folder:
        homes = [Path(folder) / f"home-{size}" for size in config.growth]
        growth = [_in_own_process(_learn_once, size, config.seed, model, learn_config, models_dir, home)
                  for size, home in zip(config.growth, homes)]
        engines = ("torch", "llama.cpp") if reasoning.gguf is not None else ("torch",)
        # The same questions as the decoding rows, answered by the first (smallest) knowledge base.
        answering = [_in_own_process(_answer_once, homes[0], engine, questions, model, models_dir)
                     for engine in engines] if homes else []
    naive, ceiling = learning[0], learning[-1]
    for row in learning:
        row["tokens_per_second"] = round(row["tokens"] / row["seconds"], 1)
        row["x_naive"] = round(row["tokens_per_second"] / (naive["tokens"] / naive["seconds"]), 2)
        row["share_of_ceiling"] = round(row["tokens_per_second"] / (ceiling["tokens"] / ceiling["seconds"]), 2)
    # Each knowledge row's answers against dualbrain's own (merged copy), each base row's against the base.
    reference = {row["row"]: row["answers"] for row in serving}
    for row in serving:
        row["x_base"] = round(row["tokens_per_second"] / serving[0]["tokens_per_second"], 3)
        same_as = "base" if "base" in row["row"] else "knowledge, merged copy (dualbrain)"
        row["same_answers_as"] = same_as
        answers = row.pop("answers")
        row["same_answers"] = round(sum(a == b for a, b in zip(answers, reference[same_as])) / len(answers), 3)
    return {
        "config": asdict(config),
        "base_model": reasoning.name,
        "train_settings": settings.to_dict(),
        "examples": len(rows),
        "device": str(reasoning.model.device),
        "threads": torch.get_num_threads(),
        "learning": learning,
        "serving": serving,
        "peak_rss_mb": {"after_learning": learning_rss, "after_serving": _peak_rss_mb()},
        "growth": growth,
        "answering_memory": answering,
    }


def _reference_epoch(
    reasoning: ReasoningNetwork, network: LoraKnowledge, rows: list[dict], settings: TrainSettings, levers: set[str]
) -> dict:
    """One epoch of a plain PEFT loop on the shared base, with the chosen ``levers`` switched on."""
    generator = torch.Generator().manual_seed(settings.seed)
    if "length-grouped batches" in levers:
        lengths = [len(row["input_ids"]) for row in rows]
        sampler = LengthGroupedSampler(settings.batch_size, lengths=lengths, generator=generator)
    else:
        sampler = RandomSampler(rows, generator=generator)
    loader = DataLoader(rows, settings.batch_size, sampler=sampler, collate_fn=collate_rows(reasoning.tokenizer.pad_token_id))
    model = network.trainable(reasoning.model)
    try:
        return _timed_epoch(model, list(loader), settings, "bf16 autocast" in levers, "logits at targets only" in levers)
    finally:
        network.detach(model)


def _ceiling(reasoning: ReasoningNetwork, network: LoraKnowledge, rows: list[dict], settings: TrainSettings) -> dict:
    """The dualbrain step on dense full-length rows holding as many tokens as the epoch."""
    stream = [token for row in rows for token in row["input_ids"]]
    targets = sum(label != IGNORE_INDEX for row in rows for label in row["labels"]) / len(stream)
    width = settings.max_tokens
    dense = torch.tensor(stream[: len(stream) // width * width]).view(-1, width)
    labels = dense.clone()
    labels[:, : round(width * (1 - targets))] = IGNORE_INDEX  # the same share of positions predict a target
    batches = [
        {"input_ids": dense[i : i + settings.batch_size], "labels": labels[i : i + settings.batch_size],
         "attention_mask": torch.ones_like(dense[i : i + settings.batch_size])}
        for i in range(0, len(dense), settings.batch_size)
    ]
    model = network.trainable(training_copy(reasoning.model, settings, reasoning.model.device))
    try:
        return _timed_epoch(model, batches, settings, settings.bf16, target_logits=True)
    finally:
        network.detach(model)  # the copy may be the shared base itself


def _timed_epoch(model: torch.nn.Module, batches: list[dict], settings: TrainSettings, bf16: bool, target_logits: bool) -> dict:
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    started = time.perf_counter()
    for batch in batches:
        with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = target_loss(model, batch) if target_logits else model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - started
    tokens = sum(int(batch["attention_mask"].sum()) for batch in batches)
    return {"tokens": tokens, "steps": len(batches), "seconds": round(seconds, 2)}


def _serving(reasoning: ReasoningNetwork, shard: Path, prompts: list[list[int]], config: PerfConfig,
             announce: Callable[[str], None]) -> list[dict]:
    eos = reasoning.tokenizer.eos_token_id
    announce("decode: base")
    rows = [{"row": "base", **_decode(lambda ids, stop: _hf_greedy(reasoning.model, ids, config.new_tokens, stop, eos), prompts)}]
    for label, merged_copies in (("knowledge, unmerged adapter", 0), ("knowledge, merged copy (dualbrain)", 1)):
        announce(f"decode: {label}")
        shards = AttachedShards(reasoning, merged_copies=merged_copies)
        try:
            with shards.answering({"perf": shard}):
                pass  # the second question on a set of shards is answered by its merged copy
            with shards.answering({"perf": shard}) as model:
                rows.append({"row": label, **_decode(lambda ids, stop: _hf_greedy(model, ids, config.new_tokens, stop, eos), prompts)})
        finally:
            shards.detach()
    return rows


def _serving_llama_cpp(reasoning: ReasoningNetwork, shard: Path, prompts: list[list[int]], config: PerfConfig,
                       announce: Callable[[str], None]) -> list[dict]:
    """The same decoding in llama.cpp: the bundled Q4_1 GGUF, plain and with the shard as a GGUF LoRA."""
    from llama_cpp import Llama  # optional: only these rows need it

    lora = shard / "adapter.gguf"
    peft_to_gguf(shard / ADAPTER_SUBDIR, lora, reasoning.model.config)
    eos = reasoning.tokenizer.eos_token_id
    rows = []
    for label, lora_path in (("llama.cpp base (Q4_1 GGUF)", None), ("llama.cpp knowledge (GGUF LoRA)", lora)):
        announce(f"decode: {label}")
        llm = Llama(model_path=str(bundled_gguf()), lora_path=str(lora_path) if lora_path else None, n_ctx=1024,
                    n_threads=torch.get_num_threads(), verbose=False)

        def greedy(ids: list[int], stop: bool, llm: Llama = llm) -> list[int]:
            tokens = llm.generate(ids, temp=0.0)  # greedy, endless: the caller stops it
            if stop:
                tokens = itertools.takewhile(lambda token: token != eos, tokens)
            return list(itertools.islice(tokens, config.new_tokens))

        rows.append({"row": label, **_decode(greedy, prompts)})
    return rows


@torch.inference_mode()
def _hf_greedy(model: torch.nn.Module, ids: list[int], new_tokens: int, stop: bool, eos: int) -> list[int]:
    prompt = torch.tensor([ids], device=model.device)
    generated = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens, do_sample=False,
                               min_new_tokens=0 if stop else new_tokens, eos_token_id=eos, pad_token_id=eos)
    answer = generated[0, len(ids):].tolist()
    return answer[: answer.index(eos)] if stop and eos in answer else answer


def _decode(greedy: Callable[[list[int], bool], list[int]], prompts: list[list[int]]) -> dict:
    """Tokens per second of ``greedy`` over ``prompts``, one at a time, always the full number of new
    tokens (``stop=False``); then the answers as users get them (``stop=True``: up to the end of answer)."""
    seconds, tokens = 0.0, 0
    for ids in prompts:
        started = time.perf_counter()
        tokens += len(greedy(ids, False))
        seconds += time.perf_counter() - started
    answers = [greedy(ids, True) for ids in prompts]
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_second": round(tokens / seconds, 1), "answers": answers}


def _in_own_process(job: Callable[..., dict], *arguments: object) -> dict:
    """``job(*arguments)`` in a fresh process, so that the peak memory it reports is its own."""
    with multiprocessing.get_context("spawn").Pool(1, initializer=quiet_libraries) as pool:
        return pool.apply(job, arguments)


def _learn_once(organisations: int, seed: int, model: str | Path | None, learn_config: LearnConfig, models_dir: Path,
                home: Path) -> dict:
    """``dualbrain learn`` of a corpus of ``organisations`` into a new knowledge base in ``home`` (one
    epoch, no self-study, to keep the rows short)."""
    corpus = generate_corpus(organisations, seed=seed)
    documents = write_documents(home / "documents", [corpus])
    brain = DualBrain.open("perf", home=Home(home, models_dir), model=model, create=True)
    brain.reasoning  # loaded before the clock starts
    config = replace(learn_config, self_study=False, train=replace(learn_config.train, epochs=1, min_steps=0))
    metrics = brain.learn([documents], config).metrics
    return {"organisations": organisations, "characters": metrics["characters_trained"], "shards": metrics["shards_trained"],
            "tokens": metrics["tokens_trained"], "learn_seconds": metrics["learn_seconds"], "peak_rss_mb": _peak_rss_mb()}


def _answer_once(home: Path, engine: str, questions: list[str], model: str | Path | None, models_dir: Path) -> dict:
    """The knowledge base in ``home`` answers ``questions`` with ``engine``: seconds and peak memory."""
    brain = DualBrain.open("perf", home=Home(home, models_dir), model=model)
    brain.reasoning  # loaded before the clock starts
    started = time.perf_counter()
    tokens = sum(brain.generate(question, engine=engine).completion_tokens for question in questions)
    return {"engine": engine, "questions": len(questions), "tokens": tokens,
            "seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux from /proc (VmHWM): getrusage's figure survives exec,
    so a spawned process would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def perf_markdown(report: dict) -> str:
    """The report as Markdown tables."""
    rss = report["peak_rss_mb"]
    lines = [
        f"# dualbrain bench perf — {report['base_model']} on {report['device']} ({report['threads']} threads)", "",
        f"## Learning: one epoch, {report['examples']} examples, batch {report['train_settings']['batch_size']}", "",
        "| row | real tokens | steps | seconds | tokens/s | × naive | share of ceiling |", "|---|---|---|---|---|---|---|",
        *[f"| {r['row']} | {r['tokens']} | {r['steps']} | {r['seconds']} | {r['tokens_per_second']} | {r['x_naive']} | "
          f"{r['share_of_ceiling']} |" for r in report["learning"]], "",
        f"## Serving: greedy decoding, one prompt at a time, {report['config']['new_tokens']} new tokens each", "",
        "| row | tokens | seconds | tokens/s | × base | same answers as | share |", "|---|---|---|---|---|---|---|",
        *[f"| {r['row']} | {r['tokens']} | {r['seconds']} | {r['tokens_per_second']} | {r['x_base']} | {r['same_answers_as']} | "
          f"{r['same_answers']} |" for r in report["serving"]],
        "", f"Peak resident memory of this process: {rss['after_learning']} MB after learning (the naive row's full "
        f"logits dominate), {rss['after_serving']} MB after serving.", "",
        "## Cost growth: `learn` (1 epoch, no self-study) of growing corpora, each in a fresh process", "",
        "| organisations | characters | shards | tokens | learn seconds | seconds per 1,000 characters | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['organisations']} | {r['characters']} | {r['shards']} | {r['tokens']} | {r['learn_seconds']} | "
          f"{round(1000 * r['learn_seconds'] / r['characters'], 2)} | {r['peak_rss_mb']} |" for r in report["growth"]], "",
        "## Answering memory: the first of those knowledge bases answers in a fresh process per engine", "",
        "| engine | questions | tokens | seconds | peak RSS MB |", "|---|---|---|---|---|",
        *[f"| {r['engine']} | {r['questions']} | {r['tokens']} | {r['seconds']} | {r['peak_rss_mb']} |"
          for r in report["answering_memory"]],
    ]
    return "\n".join(lines) + "\n"
