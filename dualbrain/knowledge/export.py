"""Export a knowledge version as plain PEFT adapters, for serving engines that load LoRA adapters as they are.

The export folder holds:

* ``shards/<shard id>/`` — each shard's adapter, unchanged (``adapter_config.json`` and
  ``adapter_model.safetensors``). vLLM serves them with ``--enable-lora --lora-modules <id>=<folder>`` and
  picks one per request; dualbrain's router (``knowledge/router.py``) says which shard holds a question's
  facts, and ``export.json`` lists every shard's documents for a client that routes by itself.
* ``all-shards/`` — one adapter equal to every shard active at once (what dualbrain computes when a
  question is routed to all of them), for engines that serve one adapter per model. LoRA updates add, so
  the shards' factors are stacked along the rank: A = [A₁; A₂; …], B = [s₁B₁, s₂B₂, …] with each shard's
  scaling sᵢ = αᵢ/rᵢ folded into its B and the combined scaling set to 1 (α = r = Σ rᵢ). The sum is exact.
* ``export.json`` — base model name and identity, the version, the shards with their documents.

The folder appears whole or not at all (written beside it, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from dualbrain.errors import DualBrainError
from dualbrain.knowledge.network import ADAPTER_SUBDIR
from dualbrain.knowledge.recipe import read_manifest
from dualbrain.store.atomic import atomic_write_text

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
COMBINED = "all-shards"


def export_peft(shard_dirs: dict[str, Path], out_dir: Path, description: dict) -> dict:
    """Write the shards in ``shard_dirs`` (id → shard folder) as PEFT adapters into ``out_dir`` (new).

    ``description`` (base model, version) goes into ``export.json`` with the shards' documents; returned.
    """
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
        exported = description | {
            "format": "peft",
            "combined_adapter": COMBINED,
            "shards": [
                {"id": shard_id, "adapter": f"shards/{shard_id}",
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
        raise DualBrainError("the shards adapt different modules; export them one by one (shards/)")
    if any(config.get("use_rslora") or config.get("use_dora") for config in configs):
        raise DualBrainError("only plain LoRA shards can be combined; export them one by one (shards/)")
    weights = [load_file(adapter / ADAPTER_WEIGHTS) for adapter in adapters]
    combined: dict[str, torch.Tensor] = {}
    for key in weights[0]:
        if ".lora_A." in key:
            combined[key] = torch.cat([w[key] for w in weights], dim=0)  # (rank, in)
        elif ".lora_B." in key:
            scalings = [config["lora_alpha"] / config["r"] for config in configs]
            combined[key] = torch.cat([w[key] * scaling for w, scaling in zip(weights, scalings)], dim=1)  # (out, rank)
        else:
            raise DualBrainError(f"unexpected tensor {key} in a knowledge shard; export the shards one by one (shards/)")
    rank = sum(config["r"] for config in configs)
    out_dir.mkdir()
    save_file({key: tensor.contiguous() for key, tensor in combined.items()}, out_dir / ADAPTER_WEIGHTS)
    config = configs[0] | {"r": rank, "lora_alpha": rank, "rank_pattern": {}, "alpha_pattern": {}}
    atomic_write_text(out_dir / ADAPTER_CONFIG, json.dumps(config, indent=2))
