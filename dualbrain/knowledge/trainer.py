"""Train the knowledge network on training signals, with the reasoning network frozen.

The loop is written for `accelerate`: one `Accelerator` owns devices, mixed precision and (under
`torchrun` / `accelerate launch`) DDP, so the same code runs on one CPU or many GPUs. No module-level
state; each call builds its own optimizer, data loader and generator from the seed, so two runs with the
same seed and data produce the same weights.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_cosine_schedule_with_warmup
from transformers.trainer_pt_utils import LengthGroupedSampler

from dualbrain.knowledge.known import KNOWN_FROM_EPOCH, KnownExamples
from dualbrain.knowledge.loss import IGNORE_INDEX, token_losses
from dualbrain.knowledge.network import KnowledgeNetwork
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.knowledge.signals import TrainingExample
from dualbrain.reasoning.prompting import answer_suffix, question_prompt

if TYPE_CHECKING:  # distillation.py builds on this module
    from dualbrain.knowledge.distillation import TeacherTargets

@cache
def bf16_is_fast() -> bool:
    """Whether bf16 matrix products run natively here: a CUDA GPU that supports bf16, or a CPU with AVX-512
    BF16 or AMX. Elsewhere (AVX2-only CPUs) PyTorch falls back to a reference kernel: measured on a 2-core
    AVX2 EPYC, a LoRA-sized matmul with its backward took 802 ms under bf16 autocast against 15 ms in fp32,
    so training there must stay in fp32."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty where that is not readable)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings for one learning run."""

    epochs: int = 6
    # A tiny corpus gives only a handful of batches per epoch; repeat epochs until this many steps so a
    # three-fact document is learned as thoroughly as a long one.
    min_steps: int = 60
    learning_rate: float = 1e-3
    batch_size: int = 8
    max_tokens: int = 256
    warmup_ratio: float = 0.06
    seed: int = 0
    # bf16 autocast where this machine computes bf16 natively (see bf16_is_fast); recorded in every manifest.
    bf16: bool = field(default_factory=bf16_is_fast)
    # Target positions whose logits are computed at a time (0: all of a batch at once); see target_loss.
    logit_chunk: int = 0
    # Weight of the in-context teacher's distribution in a distilled example's loss, the gold target's being
    # the rest (0: gold targets only, no teacher; see distillation.py).
    distillation: float = 0.0
    # From the end of epoch KNOWN_FROM_EPOCH on, drop the examples the network already recites (known.py), so
    # that later epochs train only what is not yet known: 15% fewer tokens, but measured to answer fewer
    # questions (docs/recipe.md, "Training only what is not yet known"), so off by default.
    drop_known: bool = False
    # Train the `grounded` examples (questions with passages in the prompt) in the last this many epochs only
    # (0: in every epoch): they teach a way of reading passages, not facts that the other views lack. 2 trains
    # ~9% fewer tokens; being measured (docs/recipe.md, "The grounded view in the last epochs only").
    grounded_epochs: int = 0

    def __post_init__(self) -> None:
        if (self.epochs < 1 or self.min_steps < 0 or self.batch_size < 1 or self.max_tokens < 16 or self.logit_chunk < 0
                or self.grounded_epochs < 0):
            raise ValueError(f"invalid training settings: {self}")
        if self.grounded_epochs and self.drop_known:
            raise ValueError("grounded epochs and dropping known examples cannot be combined")
        if not 0 < self.learning_rate < 1 or not 0 <= self.warmup_ratio < 1 or not 0 <= self.distillation <= 1:
            raise ValueError(f"invalid training settings: {self}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainResult:
    final_loss: float
    steps: int
    tokens_trained: int
    seconds: float
    examples_by_kind: dict[str, int]
    processes: int  # processes that trained this shard together (DDP under torchrun / accelerate launch)
    examples_by_epoch: list[int]  # the examples each epoch trained (fewer as they become known)


def target_token_ids(example: TrainingExample, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The tokens ``example`` teaches: its target and what ends an answer."""
    return tokenizer(example.target + answer_suffix(tokenizer), add_special_tokens=False)["input_ids"]


def tokenize_example(
    example: TrainingExample, tokenizer: PreTrainedTokenizerBase, max_tokens: int
) -> dict[str, list[int]]:
    """Token ids and labels; only the target is learned, chat prompts only condition."""
    prompt = question_prompt(tokenizer, example.prompt) if example.prompt else ""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
    target_ids = target_token_ids(example, tokenizer)
    input_ids = (prompt_ids + target_ids)[:max_tokens]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + target_ids)[:max_tokens]
    return {"input_ids": input_ids, "labels": labels}


def training_rows(
    examples: list[TrainingExample], tokenizer: PreTrainedTokenizerBase, max_tokens: int,
    teacher: list[TeacherTargets | None] | None = None,
) -> list[dict]:
    """The tokenized examples that have a target left to learn within ``max_tokens``, each with its
    ``teacher`` targets where it has them (see distillation.py)."""
    rows = [tokenize_example(example, tokenizer, max_tokens) for example in examples]
    for row, taught in zip(rows, teacher or []):
        if taught is not None:
            row["teacher"] = taught
    # A prompt that fills the whole budget leaves nothing to learn (and an all-ignored batch has a NaN loss).
    return [row for row in rows if any(label != IGNORE_INDEX for label in row["labels"])]


def collate_rows(pad_id: int) -> Callable[[list[dict]], dict[str, torch.Tensor]]:
    """The batching function for rows of :func:`training_rows` (or :func:`tokenize_example`): padded to the
    longest row, with the attention mask, and the teacher's columns where any row has them."""

    def collate(rows: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(row["input_ids"]) for row in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            input_ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            attention_mask[i, :n] = 1
        batch = {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
        if all("index" in row for row in rows):  # which examples these are (see known.py)
            batch["index"] = torch.tensor([row["index"] for row in rows])
        if any("teacher" in row for row in rows):
            batch |= _teacher_columns(rows)
        return batch

    return collate


def _teacher_columns(rows: list[dict]) -> dict[str, torch.Tensor]:
    """The teacher's choices for every predicted target token of ``rows``, in the order target_loss reads the
    targets (row by row, left to right), and which of those tokens have them."""
    top_k = next(row["teacher"].token_ids.shape[1] for row in rows if "teacher" in row)
    token_ids, log_probs, distilled = [], [], []
    for row in rows:
        predicted = sum(label != IGNORE_INDEX for label in row["labels"][1:])  # a first token is never predicted
        taught = row.get("teacher")
        if taught is None:
            token_ids.append(torch.zeros((predicted, top_k), dtype=torch.long))
            log_probs.append(torch.zeros((predicted, top_k)))
        else:  # a row cut at max_tokens keeps the head of its target
            token_ids.append(taught.token_ids[:predicted])
            log_probs.append(taught.log_probs[:predicted])
        distilled.append(torch.full((predicted,), taught is not None))
    return {"teacher_ids": torch.cat(token_ids), "teacher_log_probs": torch.cat(log_probs), "distilled": torch.cat(distilled)}


def training_copy(base: PreTrainedModel, settings: TrainSettings, device: torch.device) -> PreTrainedModel:
    """The frozen base laid out for the fastest training step; a copy, so the shared base is never changed.

    Two changes, each measured on the 2-core CPU (docs/recipe.md, "Speed of the training loop"):
    - Under bf16 autocast every frozen matmul weight is cast to bf16 anew on every forward pass (autocast
      caches casts of trainable weights only). The copy keeps its linear layers' weights in bf16 once; the
      embeddings and norms stay as they are, so the residual stream keeps its precision and the matmuls see
      exactly the operands they saw before.
    - On CPU, eager attention: for short chat examples PyTorch's CPU SDPA kernel (its backward above all)
      is slower than the plain matmul-softmax path.
    Returns ``base`` itself when neither change applies (e.g. a bf16 model on a GPU).
    """
    linears = [module for module in base.modules() if isinstance(module, torch.nn.Linear)]
    cast = settings.bf16 and any(module.weight.dtype != torch.bfloat16 for module in linears)
    eager = device.type == "cpu" and base.config._attn_implementation != "eager"
    if not (cast or eager):
        return base
    fast = copy.deepcopy(base)
    if cast:
        for module in fast.modules():
            if isinstance(module, torch.nn.Linear):
                # A new parameter per module: casting in place would also cast a tied input embedding.
                for name, parameter in list(module.named_parameters(recurse=False)):
                    setattr(module, name, torch.nn.Parameter(parameter.detach().to(torch.bfloat16), requires_grad=False))
    if eager:
        fast.set_attn_implementation("eager")
    return fast


def processes() -> PartialState:
    """This process's place among those launched together (torchrun / accelerate launch), or the only one.

    accelerate takes processes launched on a machine without an accelerator for independent single runs
    unless told that they are CPU processes (then they train together over gloo).
    """
    return PartialState(cpu=_cpu_only())


def _cpu_only() -> bool:
    return torch.accelerator.current_accelerator() is None


# Called after each epoch with the epoch number and the model (knowledge attached, eval mode).
EpochHook = Callable[[int, torch.nn.Module], None]


def _run_epoch_hook(
    hook: EpochHook, epoch: int, model: torch.nn.Module, accelerator: Accelerator, bf16: bool, reports: bool, together: bool
) -> None:
    if reports:
        model.eval()
        # The training copy's frozen weights may be bf16: the hook computes as the training step does.
        with torch.no_grad(), torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=bf16):
            hook(epoch, accelerator.unwrap_model(model))
        model.train()
    if together:
        accelerator.wait_for_everyone()


def train_knowledge(
    base: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    network: KnowledgeNetwork,
    examples: list[TrainingExample],
    settings: TrainSettings,
    on_progress: Callable[[LearnProgress], None] | None = None,
    on_epoch_end: EpochHook | None = None,
    data_parallel: bool = True,
    teacher: list[TeacherTargets | None] | None = None,
) -> tuple[torch.nn.Module, TrainResult, Accelerator]:
    """Attach fresh knowledge weights to (a training copy of) ``base`` and fit them to ``examples``.

    Returns the (unwrapped) training model with knowledge attached — for saving the knowledge weights; its
    frozen weights may be bf16 (see :func:`training_copy`) — the run's figures, and the accelerator (the
    caller saves on the main process only). ``on_epoch_end(epoch, model)`` runs on the main process after
    every epoch with that model in eval mode (under bf16 autocast when training uses it), e.g. to draw a
    learning curve.

    Under a launcher every process trains the examples together (DDP: each takes a share of every batch)
    unless ``data_parallel`` is False: then this process trains them alone, exactly as a single process
    would, while the others train other shards.

    ``teacher`` holds the in-context teacher's choices for the examples it distils (aligned with
    ``examples``); they are learned with the weight ``settings.distillation``.
    """
    if not examples:
        raise ValueError("no training examples")
    # Accelerate keeps its state per process and refuses a second, different mixed-precision setting, so
    # it always gets the same arguments and bf16 is applied here with autocast, per run.
    accelerator = Accelerator(cpu=_cpu_only())
    workers = accelerator.num_processes if data_parallel else 1
    together = workers > 1
    reports = accelerator.is_main_process or not together  # progress and the epoch hook: one process per shard
    set_seed(settings.seed)
    model = network.trainable(training_copy(base, settings, accelerator.device))
    model.train()
    rows = training_rows(examples, tokenizer, settings.max_tokens, teacher)
    for index, row in enumerate(rows):
        row["index"] = index
    without_grounded = [row for row, example in zip(rows, examples) if example.kind != "grounded"]
    # Batches of similar lengths: with random batches half of every forward pass was padding (chat turns
    # are short, passages long). The order stays random across and within epochs (one generator throughout).
    order, collate = torch.Generator().manual_seed(settings.seed), collate_rows(tokenizer.pad_token_id)

    def loader_of(kept: list[dict]) -> DataLoader:
        sampler = LengthGroupedSampler(settings.batch_size, lengths=[len(row["input_ids"]) for row in kept], generator=order)
        loader = DataLoader(kept, batch_size=settings.batch_size, sampler=sampler, collate_fn=collate)
        return accelerator.prepare_data_loader(loader) if together else loader  # DDP: a share of every batch each

    def steps_of(kept: list[dict]) -> int:  # optimizer steps of one epoch over ``kept``, per process
        return math.ceil(math.ceil(len(kept) / settings.batch_size) / workers)

    optimizer = network.optimizer(model, settings.learning_rate)
    steps_per_epoch = steps_of(rows)
    epochs = max(settings.epochs, math.ceil(settings.min_steps / steps_per_epoch))
    grounded_from = epochs - settings.grounded_epochs if settings.grounded_epochs else 0

    def rows_of(epoch: int) -> list[dict]:  # what an epoch trains, before any known examples leave
        return without_grounded if epoch < grounded_from else rows

    total_steps = sum(steps_of(rows_of(epoch)) for epoch in range(epochs))
    # Stepped here once per optimizer step: prepared by accelerate, it would step once per process each time.
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(settings.warmup_ratio * total_steps), total_steps)
    if together:  # DDP
        model, optimizer = accelerator.prepare(model, optimizer)
    else:  # no collective calls: other processes may be training something else
        model.to(accelerator.device)
    known = KnownExamples(len(rows)) if settings.drop_known else None

    # Real (non-padding) tokens this process trained; the progress rate scales them by the process count.
    step, tokens, loss_value, started = 0, 0, float("nan"), time.perf_counter()
    kept, examples_by_epoch = rows_of(0), []
    loader = loader_of(kept)
    try:
        for epoch in range(epochs):
            if 0 < epoch == grounded_from:  # the grounded examples join (never with drop_known: see TrainSettings)
                kept, loader = rows, loader_of(rows)
            examples_by_epoch.append(len(kept))
            for batch in loader:
                batch = {name: tensor.to(accelerator.device) for name, tensor in batch.items()}
                with torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=settings.bf16):
                    losses, gold = token_losses(model, batch, settings.logit_chunk, settings.distillation)
                    loss = losses.mean()
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                if known:
                    known.record(batch["index"], batch["labels"], gold)
                step += 1
                tokens += int(batch["attention_mask"].sum())
                loss_value = (accelerator.reduce(loss.detach(), reduction="mean") if together else loss).item()
                if on_progress and reports:
                    elapsed = time.perf_counter() - started
                    on_progress(LearnProgress("training", step, total_steps, epoch + 1, loss_value,
                                             tokens * workers / elapsed, elapsed))
            if on_epoch_end:
                _run_epoch_hook(on_epoch_end, epoch + 1, model, accelerator, settings.bf16, reports, together)
            if known and KNOWN_FROM_EPOCH <= epoch + 1 < epochs:
                # Each epoch keeps its stretch of the schedule however many of its steps are left.
                for _ in range(steps_per_epoch * (epoch + 1) - scheduler.last_epoch):
                    scheduler.step()
                kept = known.unknown(kept, accelerator.device if together else None)
                if not kept:
                    break
                loader = loader_of(kept)
                total_steps = step + (epochs - epoch - 1) * steps_of(kept)
    except BaseException:
        network.detach(accelerator.unwrap_model(model))  # a failed run leaves no knowledge weights behind
        raise
    if together:
        accelerator.wait_for_everyone()
        tokens = int(accelerator.reduce(torch.tensor(tokens, device=accelerator.device), reduction="sum"))
    model = accelerator.unwrap_model(model)
    model.eval()
    result = TrainResult(
        final_loss=loss_value,
        steps=step,
        tokens_trained=tokens,
        seconds=time.perf_counter() - started,
        examples_by_kind=dict(Counter(example.kind for example in examples)),
        processes=workers,
        examples_by_epoch=examples_by_epoch,
    )
    return model, result, accelerator
