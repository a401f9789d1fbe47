"""A knowledge shard on disk: the knowledge network's own files and ``manifest.json`` beside them.

The manifest says which base model the shard belongs to (name and identity hash), which knowledge-network
design wrote it (``knowledge_network``, a registered kind), the exact configuration it was trained with, the
documents it learned (ids and sha256) and the run's metrics. It is what lets dualbrain refuse to attach
knowledge to the wrong base model, re-attach a shard with the design that wrote it, and rebuild a shard alike.
"""

from __future__ import annotations

import json
from pathlib import Path

from dualbrain.errors import DualBrainError
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.network import KNOWLEDGE_NETWORKS, KnowledgeNetwork
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.store.atomic import atomic_write_text

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_REQUIRED_MANIFEST_KEYS = {"base_model", "base_identity", "knowledge_network"}


def write_manifest(shard_dir: Path, network: KnowledgeNetwork, reasoning: ReasoningNetwork, config: dict,
                   documents: list[dict], metrics: dict) -> None:
    manifest = {
        "format": MANIFEST_FORMAT,
        "knowledge_network": network.kind,
        "base_model": reasoning.name,
        "base_identity": reasoning.identity,
        "config": config,
        "documents": documents,
        "metrics": metrics,
    }
    atomic_write_text(shard_dir / MANIFEST, json.dumps(manifest, indent=2))


def read_manifest(shard_dir: Path) -> dict:
    try:
        manifest = json.loads((shard_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DualBrainError(f"knowledge shard {shard_dir.name} is unreadable ({error}); relearn") from None
    if not isinstance(manifest, dict) or not _REQUIRED_MANIFEST_KEYS <= manifest.keys():
        raise DualBrainError(f"knowledge shard {shard_dir.name} is unreadable (incomplete manifest); relearn")
    if manifest.get("format", MANIFEST_FORMAT) > MANIFEST_FORMAT:
        raise DualBrainError(f"knowledge shard {shard_dir.name} was written by a newer dualbrain; upgrade")
    return manifest


def shard_config(shard_dir: Path) -> LearnConfig:
    """The configuration the shard in ``shard_dir`` was trained with."""
    return LearnConfig.from_dict(read_manifest(shard_dir)["config"])


def check_shard(reasoning: ReasoningNetwork, shard_dir: Path) -> KnowledgeNetwork:
    """The knowledge network that reads ``shard_dir``, refusing a shard made for another base model."""
    manifest = read_manifest(shard_dir)
    reasoning.require_trained_on(manifest["base_identity"], f"knowledge in {shard_dir.name}",
                                 f"base model '{manifest['base_model']}'")
    # The network's own files say how it is shaped; only the design that reads them is needed here.
    if manifest["knowledge_network"] not in KNOWLEDGE_NETWORKS:
        raise DualBrainError(f"knowledge in {shard_dir.name} uses an unknown network '{manifest['knowledge_network']}'")
    return KNOWLEDGE_NETWORKS[manifest["knowledge_network"]]()
