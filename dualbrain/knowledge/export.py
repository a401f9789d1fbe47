"""Export a knowledge version as adapters that other serving engines load as they are.

``--format peft``: the export folder holds

* ``shards/<shard id>/`` — each shard's adapter, unchanged (``adapter_config.json`` and
  ``adapter_model.safetensors``). vLLM serves them with ``--enable-lora --lora-modules <id>=<folder>`` and
  picks one per request; dualbrain's router (``answering/routing.py``) says which shard holds a question's
  facts, and ``export.json`` lists every shard's documents for a client that routes by itself.
* ``all-shards/`` — one adapter equal to every shard active at once (what dualbrain computes when a
  question is routed to all of them), for engines that serve one adapter per model. LoRA updates add, so
  the shards' factors are stacked along the rank: A = [A₁; A₂; …], B = [s₁B₁, s₂B₂, …] with each shard's
  scaling sᵢ = αᵢ/rᵢ folded into its B and the combined scaling set to 1 (α = r = Σ rᵢ). The sum is exact.
* ``export.json`` — base model name and identity, the version, the shards with their documents.

``--format gguf``: the same adapters as llama.cpp LoRA files (``shards/<id>.gguf``, ``all-shards.gguf``)
for ``llama-cli -m base.gguf --lora …`` or llama-cpp-python's ``lora_path``, with ``export.json``. Written
with the ``gguf`` package the way llama.cpp's own ``convert_lora_to_gguf.py`` does: tensors named after
the base model's GGUF tensors plus ``.lora_a`` / ``.lora_b``, and for Llama-family models the query and
key LoRA B rows permuted as llama.cpp's converter permutes those projections' weights (its rotary layout).

The folder appears whole or not at all (written beside it, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import gguf
import torch
from safetensors.torch import load_file, save_file
from transformers import PretrainedConfig

from dualbrain.errors import DualBrainError
from dualbrain.knowledge.network import ADAPTER_SUBDIR
from dualbrain.knowledge.shard_format import read_manifest
from dualbrain.store.atomic import atomic_write_text

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
COMBINED = "all-shards"
FORMATS = ("peft", "gguf")
# Hugging Face model types whose GGUF conversion llama.cpp does with the Llama tensor layout.
_LLAMA_FAMILY = {"llama": gguf.MODEL_ARCH.LLAMA, "mistral": gguf.MODEL_ARCH.LLAMA}


def export_knowledge(
    shard_dirs: dict[str, Path], out_dir: Path, description: dict, format: str, base_config: PretrainedConfig | None
) -> dict:
    """Write the shards in ``shard_dirs`` (id → shard folder) as ``format`` adapters into ``out_dir`` (new).

    ``description`` (knowledge base, version) goes into ``export.json`` with the base model the shards were
    trained on and their documents; returned.
    ``base_config`` (the base model's configuration) is needed for GGUF only.
    """
    if format not in FORMATS:
        raise DualBrainError(f"unknown export format {format!r}; available: {', '.join(FORMATS)}")
    if format == "gguf":
        _check_llama_family(base_config, "use --format peft")
    if out_dir.exists():
        raise DualBrainError(f"{out_dir} exists; choose a new export folder")
    if not shard_dirs:
        raise DualBrainError("the version has no knowledge shards to export")
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "shards").mkdir(parents=True)
    try:
        for shard_id, shard_dir in shard_dirs.items():
            shutil.copytree(shard_dir / ADAPTER_SUBDIR, staging / "shards" / shard_id,
                            ignore=shutil.ignore_patterns("README.md"))
        _write_combined([staging / "shards" / shard_id for shard_id in shard_dirs], staging / COMBINED)
        suffix = ""
        if format == "gguf":  # the PEFT adapters written above become GGUF files in their place
            suffix = ".gguf"
            for adapter in [staging / "shards" / shard_id for shard_id in shard_dirs] + [staging / COMBINED]:
                peft_to_gguf(adapter, adapter.with_name(adapter.name + suffix), base_config)
                shutil.rmtree(adapter)
        exported = description | {
            "base_model": read_manifest(next(iter(shard_dirs.values())))["base_model"],
            "format": format,
            "combined_adapter": COMBINED + suffix,
            "shards": [
                {"id": shard_id, "adapter": f"shards/{shard_id}{suffix}",
                 "documents": read_manifest(shard_dir)["documents"]}
                for shard_id, shard_dir in shard_dirs.items()
            ],
        }
        atomic_write_text(staging / "export.json", json.dumps(exported, indent=2))
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return exported


def _write_combined(adapters: list[Path], out_dir: Path) -> None:
    """One LoRA adapter whose update is the sum of ``adapters``' updates (module docstring)."""
    configs = [json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8")) for adapter in adapters]
    if len({tuple(sorted(config["target_modules"])) for config in configs}) > 1:
        raise DualBrainError("the shards adapt different modules, so they cannot be combined into one adapter")
    if any(config.get("use_rslora") or config.get("use_dora") for config in configs):
        raise DualBrainError("only plain LoRA shards can be combined into one adapter")
    weights = [load_file(adapter / ADAPTER_WEIGHTS) for adapter in adapters]
    scalings = [config["lora_alpha"] / config["r"] for config in configs]
    combined: dict[str, torch.Tensor] = {}
    for key in weights[0]:
        if ".lora_A." in key:
            combined[key] = torch.cat([w[key] for w in weights], dim=0)  # (rank, in)
        elif ".lora_B." in key:
            combined[key] = torch.cat([w[key] * scaling for w, scaling in zip(weights, scalings)], dim=1)  # (out, rank)
        else:
            raise DualBrainError(f"unexpected tensor {key} in a knowledge shard: it cannot be combined into one adapter")
    rank = sum(config["r"] for config in configs)
    out_dir.mkdir()
    save_file({key: tensor.contiguous() for key, tensor in combined.items()}, out_dir / ADAPTER_WEIGHTS)
    config = configs[0] | {"r": rank, "lora_alpha": rank, "rank_pattern": {}, "alpha_pattern": {}}
    atomic_write_text(out_dir / ADAPTER_CONFIG, json.dumps(config, indent=2))


def write_gguf_lora(adapters: list[Path], out_file: Path, base_config: PretrainedConfig) -> None:
    """One llama.cpp LoRA file whose update is that of the PEFT ``adapters`` active together."""
    _check_llama_family(base_config, "answer with the torch engine")
    if len(adapters) == 1:
        peft_to_gguf(adapters[0], out_file, base_config)
        return
    with tempfile.TemporaryDirectory(prefix="dualbrain-combined-") as folder:
        combined = Path(folder) / COMBINED
        _write_combined(adapters, combined)
        peft_to_gguf(combined, out_file, base_config)


def _check_llama_family(base_config: PretrainedConfig | None, instead: str) -> None:
    if base_config is None or base_config.model_type not in _LLAMA_FAMILY:
        kind = base_config.model_type if base_config else "unknown"
        raise DualBrainError(f"GGUF adapters are written for Llama-family base models, not '{kind}'; {instead}")


def peft_to_gguf(adapter: Path, out_file: Path, base_config: PretrainedConfig) -> None:
    """Write the PEFT LoRA ``adapter`` as a llama.cpp LoRA GGUF file (module docstring)."""
    config = json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    weights = load_file(adapter / ADAPTER_WEIGHTS)
    names = gguf.get_tensor_name_map(_LLAMA_FAMILY[base_config.model_type], base_config.num_hidden_layers)
    heads = base_config.num_attention_heads
    kv_heads = getattr(base_config, "num_key_value_heads", None) or heads
    writer = gguf.GGUFWriter(out_file, gguf.MODEL_ARCH_NAMES[_LLAMA_FAMILY[base_config.model_type]])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for key in sorted(weights):
        if ".lora_A." not in key:
            continue
        module = key.removeprefix("base_model.model.").replace(".lora_A.weight", "")
        lora_b = weights[key.replace(".lora_A.", ".lora_B.")]
        if module.endswith("q_proj"):
            lora_b = _rotary_permute(lora_b, heads)
        elif module.endswith("k_proj"):
            lora_b = _rotary_permute(lora_b, kv_heads)
        name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if name is None:
            raise DualBrainError(f"no GGUF tensor for {module}; use --format peft")
        writer.add_tensor(f"{name}.lora_a", weights[key].float().numpy())
        writer.add_tensor(f"{name}.lora_b", lora_b.float().contiguous().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _rotary_permute(rows: torch.Tensor, heads: int) -> torch.Tensor:
    """Reorder output rows per head from Hugging Face's rotary layout (halves) to llama.cpp's (pairs)."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)
