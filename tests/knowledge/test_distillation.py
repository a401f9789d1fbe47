"""Distillation from the in-context teacher: what the teacher reads, what it hands over, and how it is learned."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from dualbrain.knowledge.distillation import TOP_K, teach, teacher_prompts, teacher_targets
from dualbrain.knowledge.network import LoraKnowledge, LoraSettings
from dualbrain.knowledge.signals import TrainingExample
from dualbrain.knowledge.loss import IGNORE_INDEX, target_loss
from dualbrain.knowledge.trainer import TrainSettings, collate_rows, target_token_ids, train_knowledge, training_rows
from dualbrain.reasoning.prompting import question_prompt

DOCUMENTS = [
    ("gliders", "Quillfeather builds gliders in Marrowgate.\n\nThe Wrenlark 9 glider flies 340 km."),
    ("people", "Edda Vrankel founded Quillfeather in 1987.\n\nIts chief executive is Oren Halloway."),
]
EXAMPLES = [
    TrainingExample("question", "people", "Who founded Quillfeather?", "Edda Vrankel founded Quillfeather in 1987."),
    TrainingExample("passage", "gliders", "", "Quillfeather builds gliders in Marrowgate."),
    TrainingExample("cloze", "gliders", "How far does the Wrenlark 9 fly?", "The Wrenlark 9 glider flies 340 km."),
    TrainingExample("abstain", "gliders", "How far does the Wrenlark 4 fly?", "Wrenlark 4 is not mentioned in my documents."),
]


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(tiny_model_dir)


def test_the_teacher_reads_the_passage_that_holds_the_answer() -> None:
    prompts = teacher_prompts(DOCUMENTS, EXAMPLES)
    assert prompts[1] is None and prompts[3] is None  # a passage and a decline are not distilled
    assert "Edda Vrankel founded Quillfeather in 1987." in prompts[0] and prompts[0].endswith("Who founded Quillfeather?")
    assert "flies 340 km" in prompts[2]


def test_teacher_targets_are_the_frozen_models_top_choices_at_each_target_token(model_and_tokenizer) -> None:
    """Batched and padded, each example gets exactly what one forward pass over it alone gives."""
    model, tokenizer = model_and_tokenizer
    prompts = ["Who founded Quillfeather?", None, "How far does the Wrenlark 9 glider fly, and where is it built?"]
    targets = [target_token_ids(EXAMPLES[i], tokenizer) for i in (0, 1, 2)]
    found, read = teacher_targets(model, tokenizer, EXAMPLES[:3], prompts, max_tokens=256, bf16=False)
    assert found[1] is None and read > len(targets[0]) + len(targets[2])
    for prompt, target, taught in ((prompts[0], targets[0], found[0]), (prompts[2], targets[2], found[2])):
        prompt_ids = tokenizer(question_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt_ids + target])).logits[0]
        expected = F.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1).topk(TOP_K, dim=-1)
        assert taught.token_ids.shape == (len(target), TOP_K)
        assert torch.allclose(taught.log_probs, expected.values, atol=1e-4)
        assert (taught.token_ids[:, 0] == expected.indices[:, 0]).all()


def test_a_teacher_sequence_over_its_budget_is_not_distilled(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    target = target_token_ids(EXAMPLES[0], tokenizer)
    assert teacher_targets(model, tokenizer, EXAMPLES[:1], ["Who founded Quillfeather?"], max_tokens=len(target), bf16=False) == ([None], 0)


def _distilled_batch(tokenizer, model, max_tokens: int = 256) -> dict[str, torch.Tensor]:
    teacher, _ = teach(model, tokenizer, DOCUMENTS, EXAMPLES, TrainSettings(bf16=False))
    assert [t is not None for t in teacher] == [True, False, True, False]
    return collate_rows(tokenizer.pad_token_id)(training_rows(EXAMPLES, tokenizer, max_tokens, teacher))


def test_teacher_columns_line_up_with_the_targets(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    batch = _distilled_batch(tokenizer, model)
    predicted = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    assert batch["teacher_ids"].shape == (predicted, TOP_K) and batch["distilled"].shape == (predicted,)
    lengths = [len(target_token_ids(example, tokenizer)) for example in EXAMPLES]
    # row by row: the question's target, the passage's target less its first token, the cloze's, the decline's
    expected = torch.cat([torch.full((lengths[0],), True), torch.full((lengths[1] - 1,), False),
                          torch.full((lengths[2],), True), torch.full((lengths[3],), False)])
    assert torch.equal(batch["distilled"], expected)


def test_distillation_weight_mixes_the_gold_and_the_teacher_loss(model_and_tokenizer) -> None:
    """At weight 0 the loss is the gold cross-entropy; a teacher sure of the gold token gives the same loss at
    any weight (so its columns line up with the targets); a real teacher changes it; chunking changes nothing."""
    model, tokenizer = model_and_tokenizer
    batch = _distilled_batch(tokenizer, model)
    targets = batch["labels"][:, 1:][batch["labels"][:, 1:] != IGNORE_INDEX]
    sure = batch | {"teacher_ids": batch["teacher_ids"].clone(), "teacher_log_probs": torch.full_like(batch["teacher_log_probs"], -1e4)}
    sure["teacher_ids"][:, 0], sure["teacher_log_probs"][:, 0] = targets, 0.0
    sure["teacher_ids"][:, 1:] = (targets[:, None] + 1 + torch.arange(TOP_K - 1)) % len(tokenizer)  # other tokens
    with torch.no_grad():
        gold = target_loss(model, batch)
        assert torch.allclose(target_loss(model, batch, distillation=0.0), gold)
        assert torch.allclose(target_loss(model, sure, distillation=1.0), gold, atol=1e-5)
        half = target_loss(model, batch, distillation=0.5)
        assert not torch.allclose(half, gold)
        assert torch.allclose(target_loss(model, batch, chunk_positions=5, distillation=0.5), half, atol=1e-5)


def test_a_distilled_learning_run_trains(model_and_tokenizer, tiny_model_dir: Path) -> None:
    _, tokenizer = model_and_tokenizer
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    settings = TrainSettings(epochs=2, min_steps=0, batch_size=2, bf16=False, distillation=0.5)
    teacher, _ = teach(base, tokenizer, DOCUMENTS, EXAMPLES, settings)
    before = {name: p.clone() for name, p in base.named_parameters()}
    _, result, _ = train_knowledge(base, tokenizer, LoraKnowledge(LoraSettings(rank=4)), EXAMPLES, settings, teacher=teacher)
    assert result.steps == 4 and result.final_loss == result.final_loss  # not NaN
    assert all(torch.equal(before[name], p) for name, p in base.named_parameters())  # the base stays frozen


def test_distillation_weight_is_validated() -> None:
    with pytest.raises(ValueError):
        TrainSettings(distillation=1.5)
