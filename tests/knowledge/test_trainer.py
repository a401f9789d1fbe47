"""The training loop: the target-only loss and the per-epoch hook."""

import json
import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from dualbrain.knowledge import trainer
from dualbrain.knowledge.signals import TrainingExample
from dualbrain.knowledge.network import LoraKnowledge, LoraSettings
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.knowledge.loss import IGNORE_INDEX, target_loss
from dualbrain.knowledge.trainer import TrainSettings, collate_rows, tokenize_example, train_knowledge, training_copy


def test_target_loss_equals_the_full_model_loss(tiny_model_dir: Path) -> None:
    """Computing logits only where a target is predicted must not change the loss (shift and masks align)."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [
        TrainingExample("cloze", "d", "Who founded Quillfeather?", "Edda Vrankel founded Quillfeather in 1987."),
        TrainingExample("passage", "d", "", "Quillfeather builds gliders in Marrowgate."),
        TrainingExample("recall", "d", "Tell me about the Wrenlark 9, the glider with the longest range of all.", "It flies 340 km."),
    ]
    batch = collate_rows(tokenizer.pad_token_id)([tokenize_example(e, tokenizer, 256) for e in examples])
    assert (batch["labels"] == IGNORE_INDEX).any() and (batch["attention_mask"] == 0).any()  # prompts and padding present
    with torch.no_grad():
        expected = model(**batch).loss
        assert torch.allclose(target_loss(model, batch), expected, atol=1e-5)


def test_chunked_loss_gives_the_same_loss_and_gradients(tiny_model_dir: Path) -> None:
    """Logits a few positions at a time (recomputed in backward) change memory, not what is learned."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [TrainingExample("cloze", "d", "Who founded Quillfeather?", "Edda Vrankel founded Quillfeather in 1987."),
                TrainingExample("passage", "d", "", "Quillfeather builds gliders in Marrowgate, north of the river.")]
    batch = collate_rows(tokenizer.pad_token_id)([tokenize_example(e, tokenizer, 256) for e in examples])
    network = LoraKnowledge(LoraSettings(rank=4))
    model = network.trainable(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    results = []
    for chunk_positions in (0, 5):
        model.zero_grad()
        loss = target_loss(model, batch, chunk_positions)
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}))
    (loss, grads), (chunked_loss, chunked_grads) = results
    assert torch.allclose(chunked_loss, loss, atol=1e-6)
    assert grads.keys() == chunked_grads.keys() and any(g.abs().sum() > 0 for g in grads.values())
    assert all(torch.allclose(chunked_grads[n], grads[n], atol=1e-6) for n in grads)
    assert model.get_output_embeddings().weight.shape[0] == len(tokenizer)  # the projection is back in place


def test_epoch_hook_sees_each_epoch_in_eval_mode(tiny_model_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [TrainingExample("passage", "d", "", "Quillfeather builds gliders in Marrowgate.")] * 4
    seen: list[tuple[int, bool]] = []
    trained, result, _ = train_knowledge(
        model, tokenizer, LoraKnowledge(LoraSettings(rank=4)), examples,
        TrainSettings(epochs=2, min_steps=0, batch_size=2, bf16=False),
        on_epoch_end=lambda epoch, m: seen.append((epoch, m.training)),
    )
    assert seen == [(1, False), (2, False)] and result.steps == 4


def test_grounded_examples_join_only_the_last_epochs(tiny_model_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [TrainingExample("question", "d", f"Which glider is number {n}?", f"Wrenlark {n}.") for n in range(6)]
    examples += [TrainingExample("grounded", "d", f"Passages: ... Which glider is number {n}?", f"Wrenlark {n}.")
                 for n in range(2)]
    settings = TrainSettings(epochs=4, min_steps=0, batch_size=4, bf16=False, grounded_epochs=2)
    _, result, _ = train_knowledge(model, tokenizer, LoraKnowledge(LoraSettings(rank=4)), examples, settings)
    assert result.examples_by_epoch == [6, 6, 8, 8] and result.steps == 2 + 2 + 2 + 2
    _, every_epoch, _ = train_knowledge(model, tokenizer, LoraKnowledge(LoraSettings(rank=4)), examples,
                                        TrainSettings(epochs=4, min_steps=0, batch_size=4, bf16=False, grounded_epochs=0))
    assert every_epoch.examples_by_epoch == [8] * 4 and every_epoch.tokens_trained > result.tokens_trained
    with pytest.raises(ValueError):
        TrainSettings(grounded_epochs=2, drop_known=True)


def test_training_copy_is_faster_layout_of_the_same_function(tiny_model_dir: Path) -> None:
    """bf16 linear weights + eager attention give the bf16-autocast loss of the shared base, which stays fp32."""
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    base.lm_head.weight = base.get_input_embeddings().weight  # tied, as in SmolLM2
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [
        TrainingExample("cloze", "d", "Who founded Quillfeather?", "Edda Vrankel founded Quillfeather in 1987."),
        TrainingExample("passage", "d", "", "Quillfeather builds gliders in Marrowgate."),
    ]
    batch = collate_rows(tokenizer.pad_token_id)([tokenize_example(e, tokenizer, 256) for e in examples])
    attention = base.config._attn_implementation
    fast = training_copy(base, TrainSettings(bf16=True), torch.device("cpu"))
    assert fast is not base and fast.config._attn_implementation == "eager"
    assert {p.dtype for p in base.parameters()} == {torch.float32} and base.config._attn_implementation == attention
    assert fast.get_input_embeddings().weight.dtype == torch.float32  # the residual stream keeps its precision
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.allclose(target_loss(fast, batch), target_loss(base, batch), atol=2e-2)


def test_bf16_only_where_the_machine_computes_it_natively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    try:
        for flags, expected in (({"avx2", "fma"}, False), ({"avx512f", "avx512_bf16"}, True), ({"amx_bf16"}, True)):
            monkeypatch.setattr(trainer, "cpu_flags", lambda flags=flags: flags)
            trainer.bf16_is_fast.cache_clear()
            assert trainer.bf16_is_fast() is expected
            assert trainer.TrainSettings().bf16 is expected  # the default follows the machine
    finally:
        trainer.bf16_is_fast.cache_clear()


def test_progress_reads_back_from_its_record_as_the_server_sends_it() -> None:
    training = LearnProgress("training", 3, 10, 1, 0.5, 120.0, 6.0, shard=2, shards=3, loss_history=((1, 0.9), (2, 0.7)))
    record = json.loads(json.dumps(training.to_record()))
    assert record["eta_seconds"] == 14.0 and LearnProgress.from_record(record) == training
    drafting = LearnProgress("questions", 1, 4, 0, float("nan"), 0.0, 2.0)  # no loss yet: null in the server's JSON
    back = LearnProgress.from_record(json.loads(json.dumps(drafting.to_record()).replace("NaN", "null")))
    assert math.isnan(back.loss) and back.step == 1 and back.loss_history == ()
