"""The LoRA knowledge network's optimiser: LoRA+ learning rates."""

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

from dualbrain.knowledge.network import LoraKnowledge, LoraSettings


@pytest.mark.parametrize("ratio", [1.0, 4.0])
def test_lora_plus_gives_every_b_matrix_its_own_learning_rate(tiny_model_dir: Path, ratio: float) -> None:
    network = LoraKnowledge(LoraSettings(rank=4, b_lr_ratio=ratio))
    model = network.trainable(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    optimizer = network.optimizer(model, 1e-3)
    rate = {id(param): group["lr"] for group in optimizer.param_groups for param in group["params"]}
    trained = {name: rate.get(id(param)) for name, param in model.named_parameters() if param.requires_grad}
    assert any("lora_A" in name for name in trained) and any("lora_B" in name for name in trained)
    assert all(lr == pytest.approx(ratio * 1e-3 if "lora_B" in name else 1e-3) for name, lr in trained.items())
    assert not any(id(param) in rate for param in model.parameters() if not param.requires_grad)  # the base stays frozen


def test_b_learning_slower_than_a_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid LoRA settings"):
        LoraSettings(b_lr_ratio=0.5)
