"""Known examples: which leave the next epochs, and that training then passes over fewer of them."""

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from dualbrain.knowledge import known
from dualbrain.knowledge.known import KNOWN_FROM_EPOCH, KNOWN_PROBABILITY, KnownExamples
from dualbrain.knowledge.loss import IGNORE_INDEX
from dualbrain.knowledge.network import LoraKnowledge, LoraSettings
from dualbrain.knowledge.signals import TrainingExample
from dualbrain.knowledge.trainer import TrainSettings, train_knowledge

SURE, UNSURE = -math.log(KNOWN_PROBABILITY) / 2, -math.log(KNOWN_PROBABILITY) * 2


def test_an_example_is_known_only_if_every_target_token_was_sure() -> None:
    seen = KnownExamples(4)
    rows = [{"index": index} for index in range(4)]
    # Rows 0 and 1 in one batch: two target tokens each (label positions 1 and 2 are predicted by 0 and 1).
    labels = torch.tensor([[IGNORE_INDEX, 5, 6], [IGNORE_INDEX, 7, 8]])
    seen.record(torch.tensor([0, 1]), labels, torch.tensor([SURE, SURE, SURE, UNSURE]))
    seen.record(torch.tensor([2]), torch.tensor([[IGNORE_INDEX, 5]]), torch.tensor([UNSURE]))
    assert [row["index"] for row in seen.unknown(rows)] == [1, 2, 3]  # row 3 was not seen: it stays
    # Each epoch is judged on its own pass: nothing recorded, nothing known.
    assert seen.unknown(rows) == rows


def _examples_by_epoch(tiny_model_dir: Path, drop_known: bool = True) -> list[int]:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [TrainingExample("cloze", "d", f"Which glider is number {n}?", f"Wrenlark {n}.") for n in range(8)]
    settings = TrainSettings(epochs=8, min_steps=0, batch_size=4, bf16=False, drop_known=drop_known)
    _, result, _ = train_knowledge(model, tokenizer, LoraKnowledge(LoraSettings(rank=4)), examples, settings)
    assert result.steps == sum(math.ceil(count / 4) for count in result.examples_by_epoch)
    return result.examples_by_epoch


def test_training_passes_only_over_what_is_not_known_yet(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny random model learns nothing in a few epochs, so what counts as known is set here: every row...
    monkeypatch.setattr(known, "KNOWN_PROBABILITY", 1e-30)
    assert _examples_by_epoch(tiny_model_dir) == [8] * KNOWN_FROM_EPOCH  # ...and training ends when all are known
    assert _examples_by_epoch(tiny_model_dir, drop_known=False) == [8] * 8
    # ... or half of the rows left at each epoch's end.
    monkeypatch.setattr(KnownExamples, "unknown", lambda self, rows, device=None: rows[: len(rows) // 2])
    assert _examples_by_epoch(tiny_model_dir) == [8] * KNOWN_FROM_EPOCH + [4, 2, 1]
