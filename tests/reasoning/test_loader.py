"""The reasoning network loads frozen, with a stable identity that tells models apart."""

from pathlib import Path

import pytest

from dualbrain.errors import DualBrainError
from dualbrain.reasoning.loader import load_reasoning_network, model_identity


def test_loaded_model_is_frozen_and_in_eval_mode(tiny_model_dir: Path, tmp_path: Path) -> None:
    reasoning = load_reasoning_network(tiny_model_dir, tmp_path)
    assert not reasoning.model.training
    assert all(not p.requires_grad for p in reasoning.model.parameters())
    assert reasoning.tokenizer.pad_token is not None


def test_identity_is_stable_and_differs_between_models(tiny_model_dir: Path, other_tiny_model_dir: Path, tmp_path: Path) -> None:
    assert model_identity(tiny_model_dir, tmp_path) == model_identity(tiny_model_dir, tmp_path)
    assert model_identity(tiny_model_dir, tmp_path) != model_identity(other_tiny_model_dir, tmp_path)


def test_identity_changes_when_weights_change(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in tiny_model_dir.iterdir():
        if file.is_file():
            (copy / file.name).write_bytes(file.read_bytes())
    before = model_identity(copy, tmp_path)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_identity(copy, tmp_path) != before


def test_not_a_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DualBrainError, match="not a Hugging Face model directory"):
        load_reasoning_network(tmp_path, tmp_path / "models")


def test_the_model_directory_is_never_written(tiny_model_dir: Path, tmp_path: Path) -> None:
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tiny_model_dir.iterdir())
    load_reasoning_network(tiny_model_dir, tmp_path / "models")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in tiny_model_dir.iterdir()) == before


def test_pickled_weights_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for file in tiny_model_dir.iterdir():
        if file.is_file() and file.suffix != ".safetensors":
            (pickled / file.name).write_bytes(file.read_bytes())
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(DualBrainError, match="no .safetensors weights"):
        load_reasoning_network(pickled, tmp_path / "models")
